"""The whole run: every stage of a config, in the order of the data flow, with caching."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from explainlab.cam.run import run_cam, summary_lines
from explainlab.config import RunConfig, load_config
from explainlab.errors import MissingAssetsError
from explainlab.images import Failure, resolve_sources

OFFLINE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "offline.toml"


@dataclass
class RunOutcome:
    config: RunConfig
    fallback_reason: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


def run_pipeline(
    config: RunConfig, *, strict: bool = False, offline_config: Path = OFFLINE_CONFIG
) -> RunOutcome:
    """Run every stage; without the assignment's weights, fall back to the offline config
    (unless ``strict``), saying what is missing and how to provide it."""
    try:
        return _run(config)
    except MissingAssetsError as exc:
        if strict or Path(config.source).resolve() == offline_config.resolve():
            raise
        reason = (
            f"The configuration {config.source} needs files that are not available here:\n{exc}\n"
            f"Running the offline configuration {offline_config} instead (stand-in model, "
            "labelled as such in every output). Use --strict to refuse this fallback."
        )
        print(reason, file=sys.stderr)
        outcome = _run(load_config(offline_config))
        outcome.fallback_reason = reason
        return outcome


def _run(config: RunConfig) -> RunOutcome:
    outcome = RunOutcome(config)
    sources = resolve_sources(list(config.images.sources))
    start = time.perf_counter()
    cam = run_cam(
        config.cam,
        sources,
        config.run_dir,
        device=config.run.device,
        max_pixels=config.images.max_pixels,
    )
    outcome.stage_seconds["cam"] = time.perf_counter() - start
    outcome.failures.extend(cam.failures)
    print("\n".join(summary_lines(cam)))
    return outcome
