"""The whole run: every stage of a config in the order of the data flow.

Each stage caches itself (``runfolder.Stage``): unchanged settings and inputs mean it is
skipped, an interrupted stage resumes from its finished items, ``force`` reruns it.
The pipeline adds what belongs to the run as a whole: the fallback to the offline
configuration when the assignment's weights are missing, time estimates on a CPU,
``manifest.json`` and the one-screen summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab import manifest
from explainlab.config import RunConfig, load_config
from explainlab.errors import ConfigError, MissingAssetsError
from explainlab.images import Failure, ImageSource, resolve_sources
from explainlab.models import LoadedModel, load_model, resolve_device

OFFLINE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "offline.toml"
STAGES: tuple[str, ...] = ("cam",)


@dataclass
class StageResult:
    summary: list[str]  # lines for the final screen
    skipped: bool = False
    failures: list[Failure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # key numbers for the manifest


@dataclass
class Context:
    """What every stage of one run shares: config, inputs, loaded models."""

    config: RunConfig
    sources: list[ImageSource]
    force: frozenset[str] = frozenset()
    stand_in: str = ""  # why the offline configuration replaced the asked one
    _models: dict[str, LoadedModel] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    def model(self, name: str) -> LoadedModel:
        if name not in self._models:
            self._models[name] = load_model(name, self.config.run.device)
        return self._models[name]


def _cam(ctx: Context) -> StageResult:
    from explainlab.cam.run import run_cam, summary_lines

    settings = ctx.config.cam
    outcome = run_cam(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=ctx.model(settings.model),
        max_pixels=ctx.config.images.max_pixels,
        force="cam" in ctx.force,
    )
    correct = outcome.predictions["top1_correct"].dropna()
    return StageResult(
        summary_lines(outcome),
        outcome.skipped,
        outcome.failures,
        {
            "images": len(outcome.predictions),
            "top1_correct": int(correct.sum()),
            "model": settings.model,
        },
    )


STAGE_FUNCTIONS: dict[str, Callable[[Context], StageResult]] = {"cam": _cam}


@dataclass
class RunOutcome:
    config: RunConfig
    stand_in: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    results: dict[str, StageResult] = field(default_factory=dict)

    @property
    def failures(self) -> list[Failure]:
        seen: dict[str, Failure] = {}
        for result in self.results.values():
            for failure in result.failures:
                seen.setdefault(failure.key, failure)
        return list(seen.values())


def run_pipeline(
    config: RunConfig,
    *,
    strict: bool = False,
    force: Sequence[str] = (),
    offline_config: Path = OFFLINE_CONFIG,
) -> RunOutcome:
    """Run every stage; without the assignment's weights, fall back to the offline config
    (unless ``strict``), saying what is missing and how to provide it."""
    unknown = sorted(set(force) - set(STAGES))
    if unknown:
        raise ConfigError(
            f"--force: unknown stage(s) {', '.join(unknown)}", hint=f"stages: {', '.join(STAGES)}"
        )
    try:
        return _run(config, frozenset(force), stand_in="")
    except MissingAssetsError as exc:
        if strict or Path(config.source).resolve() == offline_config.resolve():
            raise
        reason = (
            f"The configuration {config.source} needs files that are not available here, so "
            f"this run uses the offline configuration {offline_config.name} instead, with a "
            "stand-in model; every report page and the manifest say so.\n"
            f"{exc}\nTo run the assignment itself, provide these files (connect to the "
            "internet, or put them in a folder named by EXPLAINLAB_MIRROR / in TORCH_HOME) and "
            "rerun; --strict refuses this fallback."
        )
        print(f"\n{reason}\n", file=sys.stderr)
        return _run(load_config(offline_config), frozenset(force), stand_in=reason)


def _run(config: RunConfig, force: frozenset[str], stand_in: str) -> RunOutcome:
    started = manifest.now()
    device = resolve_device(config.run.device)
    ctx = Context(config, resolve_sources(list(config.images.sources)), force, stand_in)
    outcome = RunOutcome(config, stand_in)
    for name in STAGES:
        start = time.perf_counter()
        print(f"\n── stage {name} ({device.type}) ──", flush=True)
        outcome.results[name] = STAGE_FUNCTIONS[name](ctx)
        outcome.stage_seconds[name] = time.perf_counter() - start
    manifest.write_manifest(
        ctx.run_dir,
        {
            "config_file": config.source,
            "config": config.to_dict(),
            "stand_in": stand_in or None,
            "seed": config.run.seed,
            "device": str(device),
            "started": started,
            "finished": manifest.now(),
            "code": manifest.git_commit(Path(__file__).resolve().parents[2]),
            "inputs": {s.key: str(s.path) for s in ctx.sources},
            "models": {n: manifest.weights_digest(m.module) for n, m in ctx._models.items()},
            "stages": {
                n: {"seconds": round(outcome.stage_seconds[n], 2), "skipped": r.skipped, **r.facts}
                for n, r in outcome.results.items()
            },
            "failures": {f.key: f.error for f in outcome.failures},
        },
    )
    return outcome


def summary(outcome: RunOutcome) -> str:
    """The one-screen summary: what ran, where the outputs are, key numbers."""
    lines = [f"\nrun '{outcome.config.run.name}' → {outcome.config.run_dir}/"]
    if outcome.stand_in:
        lines.append("  (offline fallback: stand-in model; see manifest.json 'stand_in')")
    for name, result in outcome.results.items():
        state = "up to date, skipped" if result.skipped else f"{outcome.stage_seconds[name]:.1f} s"
        lines.append(f"\n[{name}] {state}  → {outcome.config.run_dir / name}/")
        lines.extend(f"  {line}" for line in result.summary)
    lines.append(f"\nmanifest: {outcome.config.run_dir / 'manifest.json'}")
    return "\n".join(lines)
