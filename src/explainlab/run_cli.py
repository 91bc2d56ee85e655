"""``explainlab run``: the whole job from one config file."""

from __future__ import annotations

import argparse

from explainlab.cli_common import add_images_arg, reads_only, report_failures
from explainlab.stages import stage_names


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run every stage of a config (the main job)",
        description="Run every stage of a run configuration and write all results under "
        "results/<run name>/. Stages whose settings and inputs did not change are skipped; "
        "an interrupted stage resumes from its finished images.",
    )
    p.add_argument(
        "--config",
        default="assignment",
        help="a TOML run configuration, or the name of a shipped one: assignment (default), "
        "offline",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="a missing file is an error (exit status 2), never replaced by a stand-in",
    )
    p.add_argument(
        "--stages",
        nargs="+",
        choices=stage_names(),
        default=None,
        help="run these stages only (default: the config's [run] stages)",
    )
    add_images_arg(p, "the config's [images]", max_pixels=False)
    p.add_argument(
        "--output-root",
        default=None,
        metavar="DIR",
        help="where the run folder goes (default: the config's [run] output_root, 'results')",
    )
    p.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="STAGE",
        help="recompute this stage from nothing, even if up to date (repeatable; "
        f"stages: {', '.join(stage_names())})",
    )
    p.set_defaults(handler=_handle)
    reads_only(p)  # the pipeline holds the config's run folder itself (library first)


def _handle(args: argparse.Namespace) -> int:
    from explainlab.config import load_config, with_overrides
    from explainlab.pipeline import run_pipeline, summary

    config = with_overrides(
        load_config(args.config),
        stages=args.stages,
        images=args.images,
        output_root=args.output_root,
    )
    outcome = run_pipeline(config, strict=args.strict, force=args.force)
    print(summary(outcome))
    return report_failures(outcome.failures)
