"""``explainlab dissect run`` (label units with CLIP-Dissect) and ``explainlab dissect
analyze`` (tables, figures and a summary from descriptions.csv files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from explainlab.cli_common import (
    add_device_arg,
    add_force_arg,
    add_out_arg,
    add_run_arg,
    add_settings,
    report_failures,
    settings_from,
    writes_into,
)
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import ConfigError
from explainlab.stages import stage_dir

DEFAULT_RUN = Path("results/default")  # analyze's run folder when none is given


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dissect",
        help="network dissection with CLIP-Dissect, and its analysis",
        description="Label every unit of chosen layers with a concept (CLIP-Dissect), and "
        "analyse descriptions.csv files (ours or the published ones).",
    )
    sub = p.add_subparsers(dest="dissect_command", metavar="STEP", required=True)
    _register_run(sub)
    _register_analyze(sub)


def _register_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="label the units of the chosen layers",
        description="CLIP-Dissect: activations of the chosen layers and CLIP features of the "
        "probe images, a similarity between units and concepts, each unit's best concept. "
        "Writes <out>/dissect/<model>/descriptions.csv, top_concepts.csv, top_images.csv, "
        "probe_images.csv and args.json; features and activations are cached and a rerun resumes.",
    )
    add_settings(p, DissectSettings)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a similarity parameter, e.g. top_k=50 (repeatable)",
    )
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="dissect a randomly initialised model, labelled as such, when its weights are unavailable",
    )
    p.add_argument("--no-analysis", action="store_true", help="do not run the analysis afterwards")
    add_force_arg(p, "recompute the labels from nothing")
    add_device_arg(p)
    add_out_arg(p)
    p.set_defaults(handler=_handle_run)
    writes_into(p, lambda args: args.out)


def _register_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="tables, figures and summary.md from descriptions.csv files",
        description="Analyse descriptions.csv files (ours, CLIP-Dissect's published ones, or "
        "runs of the reference code): concepts per layer, distinct concepts and Broden "
        "categories, concentration, similarity scores, ImageNet vs Places365 overlap, agreement "
        "with published or reference labels, label stability across runs, the fc check, "
        "montages. Writes CSV tables, PNG figures and summary.md.",
    )
    p.add_argument("files", nargs="*", type=Path, help="descriptions.csv files, one per model")
    add_run_arg(
        p,
        None,
        "analyse every <run>/dissect/<model>/descriptions.csv (and judge it against the "
        "reference runs of the same model)",
    )
    p.add_argument(
        "--runs",
        nargs="+",
        type=Path,
        default=[],
        metavar="CSV_OR_FOLDER",
        help="several runs of the same model(s), files or folders of them, grouped by model "
        "(<model>_run_<id>.csv or <run>/dissect/<model>/descriptions.csv): label stability. "
        "Alone, each model's first run is the one analysed; with FILES, these are further runs "
        "of the FILES' models",
    )
    p.add_argument(
        "--reference-runs",
        action="store_true",
        help="analyse the reference code's two runs on the assignment's configuration (both "
        "ResNet18s, layer2-4), run a as the main one, run b for the label stability",
    )
    p.add_argument(
        "--published-results",
        action="store_true",
        help="analyse CLIP-Dissect's published results (ResNet50 ImageNet, ResNet18 Places365): "
        "a comparison with a bigger ImageNet model",
    )
    p.add_argument(
        "--published",
        nargs="+",
        type=Path,
        default=[],
        metavar="CSV",
        help="published or reference descriptions of the same models: agreement with ours, "
        "and with each other when a model has two or more",
    )
    p.add_argument(
        "--names",
        nargs="+",
        default=None,
        help="one display name per file (default: from the file)",
    )
    p.add_argument(
        "--montage-concepts",
        type=int,
        default=4,
        help="concepts per model with a montage (default 4)",
    )
    add_out_arg(
        p,
        None,
        "output folder (default <run>/dissect/analysis, or results/default/dissect/analysis)",
    )
    add_force_arg(p, "redo even if up to date")
    p.set_defaults(handler=_handle_analyze)
    # the analysis folder is replaced whole: the lock is its parent's (the run folder's)
    writes_into(p, lambda args: args.out.parent if args.out else args.run or DEFAULT_RUN)


def _params(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--param {pair!r}: expected NAME=NUMBER, e.g. top_k=50") from None
    return out


def settings_from_args(args: argparse.Namespace) -> DissectSettings:
    return settings_from(args, DissectSettings, similarity_params=_params(args.param))


def _handle_run(args: argparse.Namespace) -> int:
    from explainlab.dissect.activations import random_target
    from explainlab.dissect.analysis import analyze_run
    from explainlab.dissect.run import run_dissect
    from explainlab.errors import MissingAssetsError

    settings = settings_from_args(args)
    targets = None
    if args.allow_random_weights:
        from explainlab.dissect.activations import load_target

        targets = {}
        for name in settings.models:
            try:
                targets[name] = load_target(name, "cpu")
            except MissingAssetsError as exc:
                print(f"{name}: weights unavailable, dissecting random weights instead\n{exc}")
                targets[name] = random_target(name, settings.seed)
    outcome = run_dissect(settings, args.out, targets=targets, device=args.device, force=args.force)
    for name, folder in outcome.folders.items():
        state = "up to date" if name in outcome.skipped else "written"
        print(f"{name}: {folder}/descriptions.csv ({state})")
    for note in outcome.notes:
        print(f"note: {note}")
    if not args.no_analysis:
        analysis = analyze_run(args.out, force=args.force)
        print(f"analysis: {analysis.folder}/summary.md")
    return report_failures(outcome.failures)


def _handle_analyze(args: argparse.Namespace) -> int:
    from explainlab.dissect.analysis import (
        analyze,
        analyze_published,
        analyze_reference_runs,
        analyze_run,
        analyze_runs,
        collect_runs,
    )
    from explainlab.errors import InputError

    run = args.run or DEFAULT_RUN
    default_out = args.out or stage_dir(run, "dissect") / "analysis"
    common = {"force": args.force}
    if args.published_results:
        outcome = analyze_published(run, out=args.out, **common)
    elif args.reference_runs:
        outcome = analyze_reference_runs(run, out=args.out, **common)
    elif args.files:
        outcome = analyze(
            args.files,
            default_out,
            names=args.names,
            published=args.published,
            runs=collect_runs(args.runs),
            montage_concepts=args.montage_concepts,
            **common,
        )
    elif args.runs:
        outcome = analyze_runs(
            args.runs,
            default_out,
            published=args.published,
            montage_concepts=args.montage_concepts,
            **common,
        )
    elif args.run:
        outcome = analyze_run(args.run, published=args.published, out=args.out, **common)
    else:
        raise InputError(
            "nothing to analyse",
            hint="give descriptions.csv files, --runs, --run RUN, --reference-runs or "
            "--published-results",
        )
    state = " (up to date)" if outcome.skipped else ""
    print(f"analysis{state}: {outcome.folder}")
    print(f"  summary: {outcome.summary}")
    print(
        f"  {len(outcome.tables)} tables, {len(outcome.figures)} figures, {len(outcome.montages)} montages"
    )
    return 0
