"""``explainlab compare``: agreement, faithfulness and sanity of a run's CAM and LIME results."""

from __future__ import annotations

import argparse

from explainlab.cli_common import (
    add_device_arg,
    add_force_arg,
    add_model_args,
    add_run_arg,
    add_settings,
    given,
    load_model_arg,
    report_failures,
    settings_from,
    writes_into,
)
from explainlab.compare.settings import CompareSettings
from explainlab.settings import DEFAULT_MAX_PIXELS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare CAM maps with LIME: IoU, faithfulness, sanity",
        description="Read the CAM maps and LIME explanations of a run folder and write "
        "<run>/compare/: agreement.csv (IoU, Dice, pointing game, superpixel rank correlation), "
        "the IoU threshold sweep, image complexity against IoU, deletion/insertion curves "
        "against a random order (faithfulness.csv), the parameter-randomisation sanity check "
        "(sanity.csv), figures, summary.txt and summary.json.",
    )
    add_run_arg(
        p,
        "results/default",
        "run folder holding cam/ and lime/ (outputs go to RUN/compare/)",
    )
    add_settings(p, CompareSettings)
    add_model_args(p, None)
    add_force_arg(p)
    add_device_arg(p)
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.run)


def settings_from_args(args: argparse.Namespace) -> CompareSettings:
    # one --batch-size for the perturbed images and the sanity check's LIME alike
    same = (
        {"lime_batch_size": args.batch_size} if "batch_size" in given(args, CompareSettings) else {}
    )
    return settings_from(args, CompareSettings, **same)


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
