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
    report_failures,
    run_image_stage,
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

    outcome = run_image_stage(args, run_cam, settings_from_args(args), "same settings and images")
    print("\n".join(summary_lines(outcome)))
    print(
        f"\nmaps, overlays and panels: {outcome.folder}/<image>/; tables: {outcome.folder}/predictions.csv, timings.csv"
    )
    return report_failures(outcome.failures)
