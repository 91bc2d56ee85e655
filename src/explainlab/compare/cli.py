"""``explainlab compare``: agreement, faithfulness and sanity of a run's CAM and LIME results."""

from __future__ import annotations

import argparse
from pathlib import Path

from explainlab.cam.settings import METHODS as CAM_METHODS
from explainlab.cli_common import add_device_arg, report_failures
from explainlab.compare.settings import LIME, SUBSTRATES, CompareSettings
from explainlab.config import from_table
from explainlab.images import DEFAULT_MAX_PIXELS


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = CompareSettings()
    p = subparsers.add_parser(
        "compare",
        help="compare CAM maps with LIME: IoU, faithfulness, sanity",
        description="Read the CAM maps and LIME explanations of a run folder and write "
        "<run>/compare/: agreement.csv (IoU, Dice, pointing game, superpixel rank correlation), "
        "the IoU threshold sweep, image complexity against IoU, deletion/insertion curves "
        "against a random order (faithfulness.csv), the parameter-randomisation sanity check "
        "(sanity.csv), figures, summary.txt and summary.json.",
    )
    p.add_argument(
        "--run",
        type=Path,
        default=Path("results/default"),
        help="run folder holding cam/ and lime/ (default results/default); outputs go to RUN/compare/",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=CAM_METHODS,
        default=[],
        help="CAM methods to compare (default: every one in the run)",
    )
    p.add_argument(
        "--primary",
        choices=CAM_METHODS,
        default=defaults.primary_method,
        help=f"CAM method of the complexity answer (default {defaults.primary_method})",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=defaults.threshold,
        help=f"fixed CAM threshold (default {defaults.threshold})",
    )
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
    p.add_argument("--no-sanity", action="store_true", help="skip the randomisation sanity check")
    p.add_argument(
        "--sanity-methods",
        nargs="+",
        choices=(*CAM_METHODS, LIME),
        default=[],
        help="methods in the sanity check (default: every CAM method compared, and LIME)",
    )
    p.add_argument(
        "--sanity-max-steps",
        type=int,
        default=0,
        help="randomise only this many top blocks (default 0: the whole cascade)",
    )
    p.add_argument(
        "--sanity-images",
        type=int,
        default=0,
        help="run the sanity check on the first N images only (default 0: all)",
    )
    p.add_argument(
        "--lime-samples",
        type=int,
        default=defaults.lime_samples,
        help=f"LIME num_samples in the sanity check (default {defaults.lime_samples})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument(
        "--model",
        default=None,
        help="model name (default: the one the CAM stage recorded in the run)",
    )
    p.add_argument(
        "--batch-size", type=int, default=32, help="images per forward pass (default 32)"
    )
    p.add_argument(
        "--force", action="store_true", help="recompute even if the outputs are up to date"
    )
    add_device_arg(p)
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from explainlab.compare.run import run_compare, summary_lines

    settings = from_table(
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
    model = None
    if args.model and (settings.faithfulness or settings.sanity):
        from explainlab.models import load_model

        model = load_model(args.model, args.device)
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
