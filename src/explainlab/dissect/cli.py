"""``explainlab dissect run`` (label units with CLIP-Dissect) and ``explainlab dissect
analyze`` (tables, figures and a summary from descriptions.csv files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from explainlab.cli_common import add_device_arg, add_out_arg, report_failures, writes_into
from explainlab.dissect.settings import (
    CLIP_PRECISIONS,
    CONCEPT_SETS,
    POOLINGS,
    SIMILARITIES,
    DissectSettings,
)
from explainlab.errors import ConfigError
from explainlab.stages import stage_dir

_DEFAULTS = DissectSettings()
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
    _add_what_args(p)
    _add_clip_args(p)
    _add_resource_args(p)
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="dissect a randomly initialised model, labelled as such, when its weights are unavailable",
    )
    p.add_argument("--no-analysis", action="store_true", help="do not run the analysis afterwards")
    p.add_argument("--force", action="store_true", help="recompute the labels from nothing")
    add_device_arg(p)
    add_out_arg(p)
    p.set_defaults(handler=_handle_run)
    writes_into(p, lambda args: args.out)


def _add_what_args(p: argparse.ArgumentParser) -> None:
    """What is dissected, on which probe images, with which concepts."""
    p.add_argument(
        "--models",
        nargs="+",
        default=list(_DEFAULTS.models),
        help="models (default: both ResNet18s)",
    )
    p.add_argument(
        "--layers",
        nargs="+",
        default=list(_DEFAULTS.layers),
        help="layer names, e.g. layer4 or fc (default layer2 layer3 layer4)",
    )
    p.add_argument(
        "--probe",
        nargs="+",
        default=list(_DEFAULTS.probe),
        metavar="SET",
        help="'broden' and/or image folders (an ImageNet val folder ...); default broden",
    )
    p.add_argument(
        "--probe-limit",
        type=int,
        default=_DEFAULTS.probe_limit,
        metavar="N",
        help="a fixed-seed subset of N probe images (default 0: all)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        help=f"seed of the subset and of random CLIP weights (default {_DEFAULTS.seed})",
    )
    p.add_argument(
        "--concept-set",
        default=_DEFAULTS.concept_set,
        help=f"{', '.join(CONCEPT_SETS)} or a text file (default {_DEFAULTS.concept_set})",
    )


def _add_clip_args(p: argparse.ArgumentParser) -> None:
    """CLIP and the similarity between units and concepts."""
    p.add_argument(
        "--clip-model",
        default=_DEFAULTS.clip_model,
        help=f"open_clip model (default {_DEFAULTS.clip_model}, OpenAI's ViT-B/16 as in the reference)",
    )
    p.add_argument(
        "--clip-pretrained",
        default=_DEFAULTS.clip_pretrained,
        help="open_clip tag, checkpoint file, or 'none' for random weights (default openai)",
    )
    p.add_argument(
        "--clip-precision",
        choices=CLIP_PRECISIONS,
        default=_DEFAULTS.clip_precision,
        help=f"CLIP's precision (default {_DEFAULTS.clip_precision}; fp16 runs CLIP as the "
        "reference does: fp16 on a GPU, fp32 on a CPU)",
    )
    p.add_argument(
        "--similarity",
        choices=SIMILARITIES,
        default=_DEFAULTS.similarity,
        help=f"similarity function (default {_DEFAULTS.similarity})",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a similarity parameter, e.g. top_k=50 (repeatable)",
    )
    p.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=_DEFAULTS.pooling,
        help=f"spatial pooling of conv outputs (default {_DEFAULTS.pooling})",
    )


def _add_resource_args(p: argparse.ArgumentParser) -> None:
    """Speed and memory: they change no label."""
    p.add_argument(
        "--batch-size",
        type=int,
        default=_DEFAULTS.batch_size,
        help=f"images per batch (default {_DEFAULTS.batch_size})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=_DEFAULTS.num_workers,
        help=f"DataLoader workers (default {_DEFAULTS.num_workers})",
    )
    p.add_argument(
        "--shard-size",
        type=int,
        default=_DEFAULTS.shard_size,
        help=f"images per cached shard, the unit of resume (default {_DEFAULTS.shard_size})",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=_DEFAULTS.memory_mb,
        help=f"working memory of the similarity in MB (default {_DEFAULTS.memory_mb})",
    )
    p.add_argument(
        "--cache-dir",
        default=_DEFAULTS.cache_dir,
        help="cache of features and activations (default <EXPLAINLAB_CACHE>/dissect)",
    )


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
    p.add_argument(
        "--run",
        type=Path,
        default=None,
        help="analyse every <run>/dissect/<model>/descriptions.csv (and judge it against the "
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
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default <run>/dissect/analysis, or results/default/dissect/analysis)",
    )
    p.add_argument("--force", action="store_true", help="redo even if up to date")
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
    from explainlab.settings import from_table

    return from_table(
        DissectSettings,
        {
            "models": args.models,
            "layers": args.layers,
            "probe": args.probe,
            "probe_limit": args.probe_limit,
            "seed": args.seed,
            "concept_set": args.concept_set,
            "clip_model": args.clip_model,
            "clip_pretrained": args.clip_pretrained,
            "clip_precision": args.clip_precision,
            "similarity": args.similarity,
            "similarity_params": _params(args.param),
            "pooling": args.pooling,
            "batch_size": args.batch_size,
            "num_workers": args.workers,
            "shard_size": args.shard_size,
            "memory_mb": args.memory_mb,
            "cache_dir": args.cache_dir,
        },
        "command line",
    )


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
