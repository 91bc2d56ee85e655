"""``explainlab cam``: Grad-CAM, AblationCAM and ScoreCAM on the chosen images."""

from __future__ import annotations

import argparse

from explainlab.cam.settings import IMPLS, CamSettings
from explainlab.cli_common import (
    add_device_arg,
    add_images_arg,
    add_model_args,
    add_out_arg,
    load_model_arg,
    method_among,
    report_failures,
    writes_into,
)
from explainlab.methods import method_names
from explainlab.settings import from_table

_DEFAULTS = CamSettings()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cam",
        help="class activation maps (Grad-CAM, AblationCAM, ScoreCAM)",
        description="Run Grad-CAM, AblationCAM and ScoreCAM (pytorch-grad-cam, or our exact fast "
        "variants) on the chosen images; writes maps, overlays, panels, predictions.csv and timings.csv.",
    )
    add_images_arg(p)
    add_model_args(p, _DEFAULTS.model)
    p.add_argument(
        "--methods",
        nargs="+",
        type=method_among(method_names("cam")),
        choices=method_names("cam"),
        default=list(_DEFAULTS.methods),
        help=f"methods to run (default: {' '.join(_DEFAULTS.methods)})",
    )
    p.add_argument(
        "--impl",
        choices=IMPLS,
        default=_DEFAULTS.impl,
        help=f"fast: our exact fast variants; library: pytorch-grad-cam's own (default {_DEFAULTS.impl})",
    )
    p.add_argument(
        "--layer",
        "--target-layer",
        dest="target_layer",
        default=_DEFAULTS.target_layer,
        help="target layer as a dotted path with indices: 'layer4[-1]', 'features.denseblock4', "
        "'blocks.11.norm1' (default: the model's, else located: the last spatial map)",
    )
    p.add_argument(
        "--target-class",
        type=int,
        default=_DEFAULTS.target_class,
        help="class index to explain (default: each image's top-1)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=_DEFAULTS.batch_size,
        help=f"masked inputs per forward pass (default {_DEFAULTS.batch_size})",
    )
    p.add_argument(
        "--scorecam-bf16",
        action="store_true",
        help="fast ScoreCAM under bfloat16 autocast: faster, not exact (off by default)",
    )
    p.add_argument(
        "--force", action="store_true", help="recompute from nothing, even if up to date"
    )
    add_device_arg(p)
    add_out_arg(p)
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.out)


def settings_from_args(args: argparse.Namespace) -> CamSettings:
    return from_table(
        CamSettings,
        {
            "model": args.model,
            "methods": args.methods,
            "impl": args.impl,
            "target_layer": args.target_layer,
            "target_class": args.target_class,
            "batch_size": args.batch_size,
            "scorecam_bf16": args.scorecam_bf16,
        },
        "command line",
    )


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
