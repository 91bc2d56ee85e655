"""``explainlab cam``: Grad-CAM, AblationCAM and ScoreCAM on the chosen images."""

from __future__ import annotations

import argparse

from explainlab.cam.settings import CamSettings
from explainlab.cli_common import (
    add_device_arg,
    add_force_arg,
    add_images_arg,
    add_out_arg,
    add_settings,
    load_model_arg,
    report_failures,
    settings_from,
    writes_into,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cam",
        help="class activation maps (Grad-CAM, AblationCAM, ScoreCAM)",
        description="Run Grad-CAM, AblationCAM and ScoreCAM (pytorch-grad-cam, or our exact fast "
        "variants) on the chosen images; writes maps, overlays, panels, predictions.csv and timings.csv.",
    )
    add_images_arg(p)
    add_settings(p, CamSettings)
    add_force_arg(p)
    add_device_arg(p)
    add_out_arg(p)
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.out)


def settings_from_args(args: argparse.Namespace) -> CamSettings:
    return settings_from(args, CamSettings)


def _handle(args: argparse.Namespace) -> int:
    from explainlab.cam.run import run_cam, summary_lines
    from explainlab.images import resolve_sources

    settings = settings_from_args(args)
    sources = resolve_sources(args.images)
    outcome = run_cam(
        settings,
        sources,
        args.out,
        model=load_model_arg(args, args.device),
        max_pixels=args.max_pixels,
        force=args.force,
    )
    if outcome.skipped:
        print(f"up to date (same settings and images): {outcome.folder}")
    print("\n".join(summary_lines(outcome)))
    print(
        f"\nmaps, overlays and panels: {outcome.folder}/<image>/; tables: {outcome.folder}/predictions.csv, timings.csv"
    )
    return report_failures(outcome.failures)
