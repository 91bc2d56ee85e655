"""The whole run: every asked stage of a config, in the order of the data flow.

    dissect ──────────────┐
    cam ───────┐          ├─► (a package's stages: the assignment's report)
    lime ──────┴─► compare┘

The stages are declared in :mod:`explainlab.stages` (a package adds its own there: the
assignment adds tune before lime, its scoreboard after it, and the reports at the end); each caches itself (unchanged
settings and inputs mean it is skipped, an interrupted stage resumes from its finished
items, ``force`` recomputes it from nothing). The pipeline adds what belongs to the run
as a whole: one writer per run folder (:mod:`explainlab.runlock`), one check of every
input the asked stages need before any work (images included), stand-ins for what is
missing (unless ``strict``; :mod:`explainlab.fallback`), the time estimate of each stage
that has work to do on a CPU, ``manifest.json`` and the one-screen summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from explainlab import fallback, manifest
from explainlab.config import RunConfig, load_config
from explainlab.context import Context, StageResult
from explainlab.errors import ConfigError
from explainlab.images import Failure, ImageSource, resolve_sources
from explainlab.models import resolve_device
from explainlab.runlock import hold_run_folder
from explainlab.stages import all_stages, stage_dir, stage_names


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
    offline_config: str | Path = fallback.OFFLINE_CONFIG,
) -> RunOutcome:
    """Run every asked stage, holding the run folder's lock (a second writer is refused
    at once: :class:`explainlab.runlock.RunFolderBusy`). Every file they need is checked
    first, the images too; what is missing is named in one message and, unless
    ``strict``, replaced by its stand-in: a missing model by the offline configuration's
    (EfficientNet-Lite0), a missing dissection input by the analysis of published
    results. ``strict`` makes it an error, and so do missing images (no stand-in)."""
    unknown = sorted(set(force) - set(stage_names()))
    if unknown:
        raise ConfigError(
            f"--force: unknown stage(s) {', '.join(unknown)}",
            hint=f"stages: {', '.join(stage_names())}",
        )
    check_reads(config)
    with hold_run_folder(config.run_dir):
        found = fallback.preflight(config)
        missing = found.missing
        if missing is not None and (strict or found.images is not None):
            raise missing  # every missing file at once; the images have no stand-in
        sources = resolve_sources(list(config.images.sources))
        if missing is None:
            return _run(Context(config=config, sources=sources, force=frozenset(force)))
        return _run_with_stand_ins(config, sources, found, force, offline_config)


def _run_with_stand_ins(
    config: RunConfig,
    sources: list[ImageSource],
    found: fallback.Preflight,
    force: Sequence[str],
    offline_config: str | Path,
) -> RunOutcome:
    asked = config
    if found.models:
        offline = load_config(offline_config)
        config = fallback.stand_in_config(config, found, offline)
        offline_config = Path(offline.source).name
    text, stand_in = fallback.message(asked, config, found, str(offline_config))
    print(f"\n{text}\n", file=sys.stderr)
    with hold_run_folder(config.run_dir):  # <name>-stand-in when a model stands in
        return _run(
            Context(
                config=config,
                sources=sources,
                force=frozenset(force),
                stand_in=stand_in,
                dissect_missing=found.dissect,
            )
        )


def check_reads(config: RunConfig) -> None:
    """Each asked stage's inputs from earlier stages are asked too or already there."""
    asked = set(config.run.stages)
    for spec in all_stages():
        if spec.name not in asked or not spec.reads_required:
            continue
        for read in spec.reads_under(config):
            if read in asked or stage_dir(config.run_dir, read).is_dir():
                continue
            raise ConfigError(
                f"[run] stages: {spec.name} reads the output of {read}, which is neither "
                f"asked nor in {config.run_dir}",
                hint=f"add {read!r} to [run] stages (it runs first), or run it once",
            )


def _run(ctx: Context) -> RunOutcome:
    config = ctx.config
    started = manifest.now()
    device = resolve_device(config.run.device)
    asked = [s for s in all_stages() if s.name in config.run.stages]
    for spec in asked:  # loaded once, before any stage: the manifest names their weights
        if spec.model:
            ctx.model(getattr(config, spec.model).model)
    identity = manifest.run_identity(ctx, started, str(device))
    outcome = RunOutcome(config, ctx.stand_in)
    for spec in asked:
        start = time.perf_counter()
        print(f"\n── stage {spec.name} ({device.type}) ──", flush=True)
        outcome.results[spec.name] = spec.load_runner()(ctx)
        outcome.stage_seconds[spec.name] = time.perf_counter() - start
        manifest.write_run_manifest(ctx, identity, outcome.results, outcome.stage_seconds)
    return outcome


def summary(outcome: RunOutcome) -> str:
    """The one-screen summary: what ran, where the outputs are, key numbers."""
    run_dir = outcome.config.run_dir
    lines = [f"\nrun '{outcome.config.run.name}' → {run_dir}/"]
    if outcome.stand_in:
        lines.append(f"  STAND-IN MODEL: {outcome.stand_in}")
    dissect = outcome.results.get("dissect")
    if dissect is not None and dissect.facts.get("published_fallback"):
        lines.append(
            "  DISSECTION FALLBACK: reference CLIP-Dissect runs analysed, not computed here "
            "(see manifest.json 'dissect_fallback')"
        )
    for name, result in outcome.results.items():
        state = "up to date, skipped" if result.skipped else f"{outcome.stage_seconds[name]:.1f} s"
        lines.append(f"\n[{name}] {state}")
        lines.extend(f"  {line}" for line in result.summary[:14])
        if len(result.summary) > 14:
            more = len(result.summary) - 14
            lines.append(f"  … ({more} more lines in {stage_dir(run_dir, name)})")
    lines.append(f"\nmanifest: {run_dir / 'manifest.json'}")
    return "\n".join(lines)
