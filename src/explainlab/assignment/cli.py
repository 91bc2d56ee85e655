"""``explainlab lime`` actions of the assignment: export, validate, submit, score, tune,
calibrate."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from explainlab.assignment.settings import (
    DEFAULT_CUTOFF,
    HYPOTHESIS_NAMES,
    SUBMIT_TIMEOUT,
    SUBMIT_URL,
    CalibrationSettings,
    ReferenceSettings,
    SearchSpace,
    TuneSettings,
)
from explainlab.cli_common import (
    add_device_arg,
    add_force_arg,
    add_images_arg,
    add_out_arg,
    add_seed_arg,
    add_settings,
    given,
    load_model_arg,
    reads_only,
    report_failures,
    run_image_stage,
    settings_from,
    writes_into,
)
from explainlab.errors import ConfigError
from explainlab.lime.settings import LimeSettings
from explainlab.settings import field_default

EXIT_INVALID = 2
TOKEN_ENV = "EXPLAINLAB_LIME_TOKEN"


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _add_no_dry_run_arg(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--no-dry-run", action="store_true", help=help)


def _add_cost_model_args(p: argparse.ArgumentParser) -> None:
    """The model and the cost model as the tune settings name them (the tuner's defaults)."""
    add_settings(p, TuneSettings, only=("model", "cost_model"))


def _cost_model(args: argparse.Namespace) -> str:
    return given(args, TuneSettings).get("cost_model", field_default(TuneSettings, "cost_model"))


def register_actions(actions: argparse._SubParsersAction) -> None:
    """The assignment's actions of ``explainlab lime``."""
    for add in (
        _register_export,
        _register_validate,
        _register_submit,
        _register_score,
        _register_tune,
        _register_calibrate,
    ):
        add(actions)


def _register_export(actions: argparse._SubParsersAction) -> None:
    export = actions.add_parser(
        "export",
        help="write the parameter pickle (ten keys) and its JSON twin",
        description="Write the parameter pickle: a dict with exactly the ten mission keys, each "
        "the explain_instance arguments for that image (without image and classifier_fn), plus a "
        "readable JSON twin beside it; then validate it.",
    )
    export.add_argument(
        "--params",
        default=field_default(LimeSettings, "params"),
        help="parameter file (TOML/JSON, or a shipped name; default lime's defaults)",
    )
    add_seed_arg(
        export,
        field_default(LimeSettings, "seed"),
        "random_seed where the file has none; -1 keeps None",
    )
    export.add_argument(
        "--output",
        type=Path,
        default=None,
        help="pickle path (default <out>/lime_params.pkl; the twin ends in .json)",
    )
    _add_no_dry_run_arg(export, "skip running each image's parameters")
    add_out_arg(export)
    export.set_defaults(lime_handler=_handle_export)
    # into the run folder; a pickle given by --output is two atomic files, no run folder
    writes_into(export, lambda args: args.out if args.output is None else None)


def _register_validate(actions: argparse._SubParsersAction) -> None:
    validate = actions.add_parser(
        "validate",
        help="check a parameter pickle without trusting it",
        description="Check a parameter pickle without trusting it: refuse anything outside the "
        "allow-list before loading, check the ten keys and every parameter against the grader's "
        "explain_instance as the assignment prints it (and say apart what the installed lime "
        "lacks: progress_bar), then run explain_instance with each image's parameters on a "
        "small test image. Lists every problem. Exit status 0 valid, 2 invalid.",
    )
    validate.add_argument("file", type=Path, help="the pickle to check")
    _add_no_dry_run_arg(validate, "skip running each image's parameters")
    validate.set_defaults(lime_handler=_handle_validate)
    reads_only(validate)


def _register_submit(actions: argparse._SubParsersAction) -> None:
    submit = actions.add_parser(
        "submit",
        help="validate, then POST the pickle to the grading server",
        description="Validate the pickle, then POST it as multipart field 'file' with header "
        "'token' to the grading server and print its JSON reply.",
    )
    submit.add_argument("file", type=Path, help="the pickle to submit")
    submit.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV, ""), help=f"your token (default: ${TOKEN_ENV})"
    )
    submit.add_argument("--url", default=SUBMIT_URL, help=f"server URL (default {SUBMIT_URL})")
    submit.add_argument(
        "--timeout",
        type=_positive_float,
        default=SUBMIT_TIMEOUT,
        help=f"seconds to wait for the reply (default {SUBMIT_TIMEOUT:g})",
    )
    _add_no_dry_run_arg(submit, "validate without running the parameters")
    submit.set_defaults(lime_handler=_handle_submit)
    reads_only(submit)


def _register_score(actions: argparse._SubParsersAction) -> None:
    score = actions.add_parser(
        "score",
        help="emulate the grader: IoU against a reference and time per image",
        description="Emulate the grader: for each image run plain lime with that image's "
        "parameters, time it, build the mask of the top-K positive superpixels and compute its "
        "IoU with a reference (default: a consensus of several long LIME runs, cached). Prints a "
        "table and writes it as CSV. FILE is a pickle, a TOML/JSON parameter file, or 'defaults'. "
        "Each image's cost is its counted work (forward passes, segmentation, perturbation, "
        "regression) at this machine's measured rates, with the wall time beside it.",
    )
    score.add_argument("file", help="parameter pickle, TOML/JSON parameter file, or 'defaults'")
    _add_reference_args(score, masks=True)
    _add_cost_model_args(score)
    score.add_argument(
        "--hypothesis",
        choices=HYPOTHESIS_NAMES,
        default=HYPOTHESIS_NAMES[0],
        help="the image the grader is assumed to run LIME on: crop (the model's 224 crop) or "
        f"full (the file at its own size) (default {HYPOTHESIS_NAMES[0]})",
    )
    score.add_argument(
        "--cutoff",
        type=_positive_float,
        default=DEFAULT_CUTOFF,
        help=f"seconds after which an image is not measured (default {DEFAULT_CUTOFF:g})",
    )
    add_seed_arg(score, field_default(LimeSettings, "seed"), "the explainer's random_state")
    score.add_argument(
        "--mask-k",
        type=int,
        default=None,
        help="K of the candidate mask (default: the file's mask_num_features, else 5)",
    )
    score.add_argument(
        "--csv", type=Path, default=None, help="table path (default <out>/lime_score.csv)"
    )
    score.set_defaults(lime_handler=_handle_score)
    writes_into(score, lambda args: args.out if args.csv is None else None)


def _register_tune(actions: argparse._SubParsersAction) -> None:
    tune = actions.add_parser(
        "tune",
        help="search per-image parameters for IoU vs cost",
        description="Search, per image, num_samples, segmentation, hide_color, top_labels, Ridge "
        "alpha, num_features (and optionally the mask's K) for parameters that keep the IoU of "
        "lime's defaults against the reference at a fraction of their cost. Costs and the budget "
        "are counted work at this machine's measured rates, so load does not change the choice. "
        "Writes trials, the Pareto front (CSV and plot), a summary with the reason of each "
        "choice, the verdict and the chosen parameter file under <out>/lime_tune/.",
    )
    _add_reference_args(tune)
    add_settings(tune, TuneSettings)
    add_settings(tune, SearchSpace)
    add_force_arg(tune, "search again from nothing")
    tune.set_defaults(lime_handler=_handle_tune)
    writes_into(tune, lambda args: args.out)


def _register_calibrate(actions: argparse._SubParsersAction) -> None:
    calibrate = actions.add_parser(
        "calibrate",
        help="check the local scoreboard against the public one (Spearman rho per hypothesis)",
        description="Score each public submission of the assignment (shipped: seven teams' "
        "parameters and the grader's IoU and time) locally under each reference hypothesis, and "
        "report how well the local scores predict the grader's: Spearman rho of IoU and of time "
        "across submissions. The best hypothesis is what 'lime tune --hypothesis auto' uses. "
        "Writes per_image.csv, submissions.csv, agreement.csv, calibration.json under "
        "<out>/lime_calibrate/. With --costs: measure (or show) this machine's cost model only.",
    )
    _add_reference_args(calibrate)
    _add_cost_model_args(calibrate)
    add_settings(calibrate, CalibrationSettings)
    calibrate.add_argument(
        "--costs", action="store_true", help="only measure (or show) the cost model, then stop"
    )
    calibrate.add_argument(
        "--remeasure", action="store_true", help="with --costs: measure again (on a quiet machine)"
    )
    add_force_arg(calibrate, "score again from nothing")
    calibrate.set_defaults(lime_handler=_handle_calibrate)
    writes_into(calibrate, lambda args: args.out)  # <out>/lime_calibrate/


def _add_reference_args(p: argparse.ArgumentParser, *, masks: bool = False) -> None:
    """Images and the consensus reference; ``masks``: a folder of the user's
    reference masks may replace the consensus (the scoreboard; the tuner and the
    calibration compare with the consensus of their hypothesis)."""
    add_images_arg(p)
    if masks:
        p.add_argument(
            "--reference",
            default="consensus",
            help="'consensus' (default) or a folder of masks <key>.npy / <key>.png (on the crop)",
        )
    add_settings(p, ReferenceSettings, prefix="reference")
    add_device_arg(p)
    add_out_arg(p)


def _print_problems(path: Path, problems: list) -> int:
    from explainlab.assignment.validate import report_lines
    from explainlab.lime.params import errors

    print("\n".join(report_lines(path, problems)))
    return EXIT_INVALID if errors(problems) else 0


def _handle_export(args: argparse.Namespace) -> int:
    from explainlab.assignment.export import write_export
    from explainlab.assignment.validate import validate_file
    from explainlab.lime.params import load_param_file

    output = args.output or args.out / "lime_params.pkl"
    if output.suffix.lower() == ".json":
        raise ConfigError(
            f"{output}: the pickle must not end in .json (its twin does)", hint="use a .pkl path"
        )
    export = write_export(
        load_param_file(args.params), output, seed=None if args.seed < 0 else args.seed
    )
    for note in export.notes:
        print(f"note: {note}")
    print(f"wrote {export.pickle_path} and {export.json_path}")
    _, problems = validate_file(export.pickle_path, run=not args.no_dry_run)
    return _print_problems(export.pickle_path, problems)


def _handle_validate(args: argparse.Namespace) -> int:
    from explainlab.assignment.validate import validate_file

    _, problems = validate_file(args.file, run=not args.no_dry_run)
    return _print_problems(args.file, problems)


def _handle_submit(args: argparse.Namespace) -> int:
    from explainlab.assignment.submit import submit
    from explainlab.assignment.validate import validate_file
    from explainlab.lime.params import errors

    _, problems = validate_file(args.file, run=not args.no_dry_run)
    if errors(problems):
        _print_problems(args.file, problems)
        print("not submitted: fix the errors above first")
        return EXIT_INVALID
    reply = submit(args.file, args.token, url=args.url, timeout=args.timeout)
    print(json.dumps(reply, indent=2, ensure_ascii=False))
    return 0


def reference_settings(args: argparse.Namespace) -> ReferenceSettings:
    return settings_from(args, ReferenceSettings, prefix="reference")


def _handle_score(args: argparse.Namespace) -> int:
    from explainlab.assignment.costmeasure import cost_model_for_sources
    from explainlab.assignment.score import (
        load_candidates,
        score,
        segmentations_used,
        summary_lines,
    )
    from explainlab.images import resolve_sources
    from explainlab.lime.params import ParamFile

    candidates = ParamFile() if args.file == "defaults" else load_candidates(Path(args.file))
    csv = args.csv or args.out / "lime_score.csv"
    sources = resolve_sources(args.images)
    model = load_model_arg(args, args.device)
    used = segmentations_used(candidates, [s.key for s in sources])
    outcome = score(
        candidates,
        sources,
        csv,
        model=model,
        reference=args.reference,
        reference_settings=reference_settings(args),
        hypothesis=args.hypothesis,
        cost_model=cost_model_for_sources(
            model, sources, used, path=_cost_model(args), max_pixels=args.max_pixels
        ),
        cutoff=args.cutoff,
        seed=args.seed,
        mask_k=args.mask_k,
        max_pixels=args.max_pixels,
    )
    print("\n".join(summary_lines(outcome)))
    print(f"\ntable: {outcome.csv}")
    return report_failures(outcome.failures)


def tune_settings(args: argparse.Namespace) -> TuneSettings:
    return settings_from(
        args,
        TuneSettings,
        space=given(args, SearchSpace),
        reference=given(args, ReferenceSettings, prefix="reference"),
    )


def _handle_tune(args: argparse.Namespace) -> int:
    from explainlab.assignment.tune import summary_lines, tune

    outcome = run_image_stage(args, tune, tune_settings(args), "same settings and images")
    print("\n".join(summary_lines(outcome)))
    print(
        f"\ntrials, Pareto front (CSV, PNG), summary: {outcome.folder}/\n"
        f"chosen parameters: {outcome.folder}/params.json "
        f"(explainlab lime export --params {outcome.folder}/params.json)"
    )
    return report_failures(outcome.failures)


def calibration_settings(args: argparse.Namespace) -> CalibrationSettings:
    return settings_from(args, CalibrationSettings)


def _handle_calibrate(args: argparse.Namespace) -> int:
    from explainlab.images import resolve_sources

    settings = calibration_settings(args)
    sources = resolve_sources(args.images)
    model = load_model_arg(args, args.device)
    if args.costs:
        return _show_costs(model, sources, args)
    from explainlab.assignment.calibrate import calibrate, summary_lines

    outcome = calibrate(
        settings,
        sources,
        args.out,
        model=model,
        reference=reference_settings(args),
        cost_model=_cost_model(args),
        max_pixels=args.max_pixels,
        force=args.force,
    )
    if outcome.skipped:
        print(f"up to date (same settings, submissions and images): {outcome.folder}")
    print("\n".join(summary_lines(outcome)))
    print(f"\ntables: {outcome.folder}/ (per_image.csv, submissions.csv, agreement.csv)")
    return report_failures(outcome.failures)


def _show_costs(model, sources, args: argparse.Namespace) -> int:
    from explainlab.assignment.costmeasure import cost_model_for_sources, describe_cost_model
    from explainlab.assignment.settings import SEGMENTATIONS

    cost_model = cost_model_for_sources(
        model,
        sources,
        [None, *SEGMENTATIONS],
        path=_cost_model(args),
        max_pixels=args.max_pixels,
        remeasure=args.remeasure,
    )
    print("\n".join(describe_cost_model(cost_model)))
    return 0
