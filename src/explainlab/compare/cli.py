"""``explainlab compare``: agreement, faithfulness and sanity of a run's CAM and LIME results."""

from __future__ import annotations

import argparse
from pathlib import Path

from explainlab.cli_common import (
    add_device_arg,
    add_model_args,
    load_model_arg,
    method_among,
    report_failures,
    writes_into,
)
from explainlab.compare.settings import SUBSTRATES, CompareSettings, sanity_method_names
from explainlab.methods import method_names
from explainlab.settings import DEFAULT_MAX_PIXELS, from_table

_DEFAULTS = CompareSettings()


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = _DEFAULTS
    p = subparsers.add_parser(
        "compare",
        help="compare CAM maps with LIME: IoU, faithfulness, sanity",
        description="Read the CAM maps and LIME explanations of a run folder and write "
        "<run>/compare/: agreement.csv (IoU, Dice, pointing game, superpixel rank correlation), "
        "the IoU threshold sweep, image complexity against IoU, deletion/insertion curves "
        "against a random order (faithfulness.csv), the parameter-randomisation sanity check "
        "(sanity.csv), figures, summary.txt and summary.json.",
    )
    _add_agreement_args(p, defaults)
    _add_faithfulness_args(p, defaults)
    _add_sanity_args(p, defaults)
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help=f"seed of every random choice (default {defaults.seed})",
    )
    add_model_args(p, None)
    p.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help=f"images per forward pass (default {defaults.batch_size})",
    )
    p.add_argument(
        "--force", action="store_true", help="recompute from nothing, even if up to date"
    )
    add_device_arg(p)
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.run)


def _add_agreement_args(p: argparse.ArgumentParser, defaults: CompareSettings) -> None:
    p.add_argument(
        "--run",
        type=Path,
        default=Path("results/default"),
        help="run folder holding cam/ and lime/ (default results/default); outputs go to RUN/compare/",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        type=method_among(method_names("cam")),
        choices=method_names("cam"),
        default=list(defaults.cam_methods),
        help="CAM methods to compare (default: every one in the run)",
    )
    p.add_argument(
        "--primary",
        type=method_among(method_names("cam")),
        choices=method_names("cam"),
        default=defaults.primary_method,
        help=f"CAM method of the complexity answer (default {defaults.primary_method})",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=defaults.threshold,
        help=f"fixed CAM threshold (default {defaults.threshold})",
    )


def _add_faithfulness_args(p: argparse.ArgumentParser, defaults: CompareSettings) -> None:
    p.add_argument(
        "--steps",
        type=int,
        default=defaults.steps,
        help=f"points per deletion/insertion curve (default {defaults.steps})",
    )
    p.add_argument(
        "--random-repeats",
        type=int,
        default=defaults.random_repeats,
        help=f"random orders in the baseline (default {defaults.random_repeats})",
    )
    p.add_argument(
        "--deletion-substrate",
        choices=SUBSTRATES,
        default=defaults.deletion_substrate,
        help=f"what deleted pixels become (default {defaults.deletion_substrate})",
    )
    p.add_argument(
        "--insertion-substrate",
        choices=SUBSTRATES,
        default=defaults.insertion_substrate,
        help=f"what insertion starts from (default {defaults.insertion_substrate})",
    )
    p.add_argument("--no-faithfulness", action="store_true", help="skip deletion/insertion")


def _add_sanity_args(p: argparse.ArgumentParser, defaults: CompareSettings) -> None:
    p.add_argument("--no-sanity", action="store_true", help="skip the randomisation sanity check")
    p.add_argument(
        "--sanity-methods",
        nargs="+",
        type=method_among(sanity_method_names()),
        choices=sanity_method_names(),
        default=list(defaults.sanity_methods),
        help="methods in the sanity check (default: every CAM method compared, and LIME)",
    )
    p.add_argument(
        "--sanity-max-steps",
        type=int,
        default=defaults.sanity_max_steps,
        help="randomise only this many top blocks (default 0: the whole cascade)",
    )
    p.add_argument(
        "--sanity-images",
        type=int,
        default=defaults.sanity_images,
        help="run the sanity check on the first N images only (default 0: all)",
    )
    p.add_argument(
        "--lime-samples",
        type=int,
        default=defaults.lime_samples,
        help=f"LIME num_samples in the sanity check (default {defaults.lime_samples})",
    )


def settings_from_args(args: argparse.Namespace) -> CompareSettings:
    return from_table(
        CompareSettings,
        {
            "cam_methods": args.methods,
            "primary_method": args.primary,
            "threshold": args.threshold,
            "steps": args.steps,
            "random_repeats": args.random_repeats,
            "deletion_substrate": args.deletion_substrate,
            "insertion_substrate": args.insertion_substrate,
            "faithfulness": not args.no_faithfulness,
            "sanity": not args.no_sanity,
            "sanity_methods": args.sanity_methods,
            "sanity_max_steps": args.sanity_max_steps,
            "sanity_images": args.sanity_images,
            "lime_samples": args.lime_samples,
            "batch_size": args.batch_size,
            "lime_batch_size": args.batch_size,
            "seed": args.seed,
        },
        "command line",
    )


def _handle(args: argparse.Namespace) -> int:
    from explainlab.compare.run import run_compare, summary_lines

    settings = settings_from_args(args)
    model = None
    if args.model and (settings.faithfulness or settings.sanity):
        model = load_model_arg(args, args.device)
    outcome = run_compare(
        settings,
        args.run,
        model=model,
        device=args.device,
        max_pixels=DEFAULT_MAX_PIXELS,
        force=args.force,
    )
    if outcome.skipped:
        print(f"up to date (same settings and inputs): {outcome.folder}")
    print("\n".join(summary_lines(outcome)))
    print(f"\ntables, figures and summary: {outcome.folder}/")
    return report_failures(outcome.failures)
