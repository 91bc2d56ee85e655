"""The whole run: every stage of a config in the order of the data flow.

    dissect ─────────────────────────────────────────────┐
    cam ──────────────────────────┐                      ├─► report
    tune ─► lime (+ pickle) ─► scoreboard ─► compare ────┘

Each stage caches itself (``runfolder.Stage``): unchanged settings and inputs mean it is
skipped, an interrupted stage resumes from its finished items, ``force`` reruns it.
The pipeline adds what belongs to the run as a whole: one check of every input the
asked stages need before any work, stand-ins for what is missing (unless ``strict``),
time estimates on a CPU, ``manifest.json`` and the one-screen summary."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from explainlab import assets, estimate, manifest, runfolder
from explainlab.config import STAGES, RunConfig, load_config
from explainlab.errors import ConfigError, MissingAssetsError
from explainlab.images import Failure, ImageSource, Sample, resolve_sources
from explainlab.models import (
    LoadedModel,
    load_model,
    require_weights,
    resolve_device,
    weights_sha256,
)

if TYPE_CHECKING:
    from explainlab.lime.params import ParamFile

OFFLINE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "offline.toml"
TUNED = "tuned"  # [lime] params = "tuned": the parameter file the tune stage chose
BRODEN_IMAGES = 63_305


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
    stand_in: str = ""  # why stand-in models replaced the asked ones (banner, manifest)
    dissect_missing: MissingAssetsError | None = None  # what the dissection lacks
    models: dict[str, LoadedModel] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    def model(self, name: str) -> LoadedModel:
        if name not in self.models:
            self.models[name] = load_model(name, self.config.run.device)
        return self.models[name]

    def estimating(self, stage: str | None, device: torch.device) -> bool:
        """Whether to print a time estimate: on a CPU, unless ``stage`` looks up to date."""
        return device.type == "cpu" and stage not in self.skippable()

    def estimate(
        self,
        label: str,
        forwards: float | Callable[[], float],
        model: LoadedModel,
        extra: float = 0.0,
        *,
        stage: str | None = None,
    ) -> None:
        """Print the time estimate of ``label`` before it starts (see :meth:`estimating`);
        ``forwards`` may be a function, called only when the estimate is printed."""
        if self.estimating(stage, model.device):
            count = forwards() if callable(forwards) else forwards
            print(estimate.line(label, count, model, extra), flush=True)

    def skippable(self) -> set[str]:
        """Stages already complete (their folder's fingerprint is present); a cheap hint only."""
        return {
            s for s in STAGES if (self.run_dir / s / runfolder.FINGERPRINT_FILE).is_file()
        } - self.force

    def lime_params(self) -> str:
        params = self.config.lime.params
        return str(self.run_dir / "lime_tune" / "params.json") if params == TUNED else params


# --- the stages ----------------------------------------------------------------------


def _dissect(ctx: Context) -> StageResult:
    from explainlab.dissect.stage import run_dissect_stage

    settings = ctx.config.dissect
    device = resolve_device(ctx.config.run.device)
    images = settings.probe_limit or (BRODEN_IMAGES if "broden" in settings.probe else 0)
    if images and ctx.dissect_missing is None and ctx.estimating("dissect", device):
        seconds = estimate.dissect_seconds(images, len(settings.models), device)
        print(
            f"estimate (cpu): dissect ≈ {estimate.describe(seconds)} for {images:,} probe images, "
            f"{len(settings.models)} model(s) and CLIP"
        )
    outcome = run_dissect_stage(
        settings,
        ctx.run_dir,
        device=ctx.config.run.device,
        missing=ctx.dissect_missing,
        force="dissect" in ctx.force,
    )
    lines = [f"analysis: {outcome.analysis.folder}"]
    if outcome.fallback_reason:
        lines.insert(0, f"DISSECTION FALLBACK: {outcome.fallback_reason}")
    lines += outcome.notes
    failures = outcome.dissect.failures if outcome.dissect else []
    return StageResult(
        lines,
        outcome.analysis.skipped,
        failures,
        {"published_fallback": outcome.fallback_reason or None, "models": list(settings.models)},
    )


def _cam(ctx: Context) -> StageResult:
    from explainlab.cam.run import run_cam, summary_lines

    settings = ctx.config.cam
    model = ctx.model(settings.model)

    def forwards() -> int:  # needs a forward pass to know the target layer's channels
        channels = estimate.target_channels(model, settings.target_layer or None)
        per_image = {
            "gradcam": 3,
            "ablationcam": 1 if settings.impl == "fast" else channels,
            "scorecam": channels,
        }
        return len(ctx.sources) * sum(per_image[m] for m in settings.methods)

    ctx.estimate("cam", forwards, model, stage="cam")
    outcome = run_cam(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=model,
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


def _tune(ctx: Context) -> StageResult:
    from explainlab.lime.tune import summary_lines, tune

    settings = ctx.config.tune
    model = ctx.model(settings.model)
    reference = settings.reference.seeds * settings.reference.num_samples
    ctx.estimate(
        "tune (references, cached afterwards)",
        len(ctx.sources) * reference,
        model,
        60 * settings.budget_minutes,
        stage="tune",
    )
    outcome = tune(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=model,
        max_pixels=ctx.config.images.max_pixels,
        force="tune" in ctx.force,
    )
    return StageResult(
        summary_lines(outcome),
        outcome.skipped,
        outcome.failures,
        {"budget_minutes": settings.budget_minutes},
    )


def _lime(ctx: Context) -> StageResult:
    from explainlab.lime.params import load_param_file
    from explainlab.lime.run import run_lime, summary_lines

    settings = dataclasses.replace(ctx.config.lime, params=ctx.lime_params())
    model = ctx.model(settings.model)
    samples = _total_samples(load_param_file(settings.params), ctx.sources)
    ctx.estimate("lime", samples, model, stage="lime")
    outcome = run_lime(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=model,
        max_pixels=ctx.config.images.max_pixels,
        force="lime" in ctx.force,
    )
    lines = [
        *summary_lines(outcome),
        f"parameter pickle: {outcome.folder / 'params.pkl'} (+ params.json)",
    ]
    result = StageResult(
        lines, outcome.skipped, outcome.failures, {"params": settings.params or "lime defaults"}
    )
    if ctx.config.scoreboard.enabled:
        _scoreboard(ctx, settings.params, model, result)
    return result


def _total_samples(param_file: ParamFile, sources: Sequence[ImageSource]) -> int:
    """LIME samples (classifier images) that a parameter file asks for over ``sources``."""
    return sum(param_file.params_for(s.key)[0]["num_samples"] for s in sources)


def _scoreboard(ctx: Context, params: str, model: LoadedModel, result: StageResult) -> None:
    """Score the run's parameters (and lime's defaults) as the grader would, under ``lime_score/``."""
    from explainlab.lime.params import load_param_file
    from explainlab.lime.score import score
    from explainlab.lime.score import summary_lines as score_lines

    board = ctx.config.scoreboard
    reference = ctx.config.tune.reference
    candidates = {"run": params} | ({"defaults": ""} if board.include_defaults else {})
    stage = runfolder.Stage(
        ctx.run_dir,
        "lime_score",
        {
            "board": dataclasses.asdict(board),
            "reference": dataclasses.asdict(reference),
            "model": model.name,
            "candidates": {
                k: (assets.file_digest(Path(p)) if p else "") for k, p in candidates.items()
            },
            "images": [[s.key, str(s.path)] for s in ctx.sources],
            "seed": ctx.config.lime.seed,
        },
    )
    if stage.complete and "lime" not in ctx.force:
        result.summary.append(f"scoreboard up to date: {stage.final}")
        return
    # the tune stage computes the same consensus references, and they are cached
    references = 0 if "tune" in ctx.config.run.stages else reference.seeds * reference.num_samples
    run_params = load_param_file(params or None)
    samples = _total_samples(run_params, ctx.sources)
    defaults = 1000 * len(ctx.sources) if board.include_defaults else 0
    ctx.estimate("scoreboard", len(ctx.sources) * references + samples + defaults, model)
    with stage.finishing() as folder:
        for name in candidates:
            outcome = score(
                run_params if name == "run" else load_param_file(None),
                ctx.sources,
                folder / f"scoreboard_{name}.csv",
                model=model,
                reference_settings=reference,
                cutoff=board.cutoff,
                seed=ctx.config.lime.seed,
                max_pixels=ctx.config.images.max_pixels,
            )
            result.summary += [f"scoreboard ({name} parameters):", *score_lines(outcome)]
            result.facts[f"scoreboard_{name}"] = {
                "mean_iou": outcome.mean_iou,
                "mean_seconds": outcome.mean_seconds,
            }


def lime_stage_explainer(
    ctx: Context, model: LoadedModel
) -> Callable[[nn.Module, Sample, int], np.ndarray]:
    """The LIME stage's own explanation (its parameters and explainer) as a map, for the
    sanity check: each pixel carries its superpixel's weight for ``target``."""
    from explainlab.compare.masks import superpixel_map
    from explainlab.lime.classifier import ModelClassifier
    from explainlab.lime.explain import explain
    from explainlab.lime.params import load_param_file

    settings = ctx.config.lime
    param_file = load_param_file(ctx.lime_params())

    def explain_map(module: nn.Module, sample: Sample, target: int) -> np.ndarray:
        params, _ = param_file.params_for(sample.key, seed=settings.seed)
        classifier = ModelClassifier(module, model.preprocess)
        result = explain(
            sample.crop,
            classifier,
            params,
            seed=settings.seed,
            explainer=settings.explainer,
            label=target,
        )
        return superpixel_map(result.segments, result.weight_map())

    return explain_map


def _compare(ctx: Context) -> StageResult:
    from explainlab.compare.run import run_compare, summary_lines

    settings = ctx.config.compare
    model = ctx.model(ctx.config.cam.model)
    methods = len(settings.cam_methods or ctx.config.cam.methods) + 1
    faith = (
        (settings.steps + 1) * (methods + settings.random_repeats) * 2
        if settings.faithfulness
        else 0
    )
    ctx.estimate(
        "compare (faithfulness; the sanity check adds its explainers' cost)",
        len(ctx.sources) * faith,
        model,
        stage="compare",
    )
    outcome = run_compare(
        settings,
        ctx.run_dir,
        model=model,
        explainers={"lime": lime_stage_explainer(ctx, model)},
        max_pixels=ctx.config.images.max_pixels,
        force="compare" in ctx.force,
    )
    return StageResult(
        summary_lines(outcome),
        outcome.skipped,
        outcome.failures,
        {"simple_images_agree_more": outcome.summary.get("complexity", {}).get("verdict")},
    )


def _report(ctx: Context) -> StageResult:
    from explainlab.report.build import build_reports

    paths = build_reports(ctx.run_dir, stand_in=ctx.stand_in)
    return StageResult(
        [f"{p.name}: {p}" for p in paths], facts={"reports": [p.name for p in paths]}
    )


STAGE_FUNCTIONS: dict[str, Callable[[Context], StageResult]] = {
    "dissect": _dissect,
    "cam": _cam,
    "tune": _tune,
    "lime": _lime,
    "compare": _compare,
    "report": _report,
}


# --- the run -------------------------------------------------------------------------


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


# The model each model-bound stage explains (compare: cam's maps; the scoreboard: lime's).
_STAGE_MODEL: dict[str, str] = {"cam": "cam", "tune": "tune", "lime": "lime", "compare": "cam"}
# The tables that follow a stage's model when a stand-in replaces it.
_STAND_IN_TABLES: dict[str, tuple[str, ...]] = {
    "cam": ("cam", "compare"),
    "tune": ("tune",),
    "lime": ("lime",),
}


@dataclass
class Preflight:
    """What the asked stages need and cannot have: per model table, the missing weights;
    the dissection's missing inputs. Checked (and downloaded) before any work."""

    models: dict[str, MissingAssetsError] = field(default_factory=dict)  # table -> error
    dissect: MissingAssetsError | None = None

    @property
    def missing(self) -> MissingAssetsError | None:
        errors = [*self.models.values(), *([self.dissect] if self.dissect else [])]
        return MissingAssetsError.combine(errors) if errors else None


def preflight(config: RunConfig) -> Preflight:
    """Obtain every file the asked stages need (cache, mirror or download) and report
    what cannot be had. Only the stages in ``[run] stages`` count."""
    from explainlab.dissect.stage import missing_inputs

    found = Preflight()
    checked: dict[str, MissingAssetsError | None] = {}
    for stage in config.run.stages:
        table = _STAGE_MODEL.get(stage)
        if table is None:
            continue
        name = getattr(config, table).model
        if name not in checked:
            try:
                require_weights(name)
                checked[name] = None
            except MissingAssetsError as exc:
                checked[name] = exc
        if checked[name] is not None:
            found.models[table] = checked[name]  # type: ignore[assignment]
    if "dissect" in config.run.stages:
        found.dissect = missing_inputs(config.dissect)
    return found


def stand_in_config(config: RunConfig, missing: Preflight, offline: RunConfig) -> RunConfig:
    """The user's config with each stage whose model is missing taken from ``offline``
    (its stand-in model, with the settings sized for it) and the run renamed
    ``<name>-stand-in``; stages, images and every other table stay the user's."""
    tables = {t for table in missing.models for t in _STAND_IN_TABLES[table]}
    if not tables:
        return config
    run = dataclasses.replace(config.run, name=f"{config.run.name}-stand-in")
    return dataclasses.replace(config, run=run, **{t: getattr(offline, t) for t in sorted(tables)})


def run_pipeline(
    config: RunConfig,
    *,
    strict: bool = False,
    force: Sequence[str] = (),
    offline_config: Path = OFFLINE_CONFIG,
) -> RunOutcome:
    """Run every asked stage. Every file they need is checked first; what is missing is
    named in one message and, unless ``strict``, replaced by its stand-in: a missing
    model by the offline configuration's (EfficientNet-Lite0), a missing dissection
    input by the analysis of published results. ``strict`` makes it an error."""
    unknown = sorted(set(force) - set(STAGES))
    if unknown:
        raise ConfigError(
            f"--force: unknown stage(s) {', '.join(unknown)}", hint=f"stages: {', '.join(STAGES)}"
        )
    sources = resolve_sources(list(config.images.sources))  # no stand-in for the images
    found = preflight(config)
    missing = found.missing
    if missing is None:
        return _run(Context(config, sources, frozenset(force)))
    if strict:
        raise missing
    asked = config
    if found.models:
        config = stand_in_config(config, found, load_config(offline_config))
    message, stand_in = _fallback_message(asked, config, found, missing, offline_config)
    print(f"\n{message}\n", file=sys.stderr)
    ctx = Context(config, sources, frozenset(force), stand_in, found.dissect)
    return _run(ctx)


def _fallback_message(
    asked: RunConfig,
    config: RunConfig,
    found: Preflight,
    missing: MissingAssetsError,
    offline_config: Path,
) -> tuple[str, str]:
    """The paragraph printed before the run, and the stand-in statement of the reports
    and the manifest (empty when no model was replaced)."""
    lines = [
        f"The configuration {asked.source or '(given)'} needs files that are not available here.",
        str(missing),
        "Stand-ins for this run:",
    ]
    stand_in = ""
    if found.models:
        replaced = sorted({t for table in found.models for t in _STAND_IN_TABLES[table]})
        models = sorted({getattr(asked, t).model for t in found.models})
        stand_ins = sorted({getattr(config, t).model for t in found.models})
        stand_in = (
            f"{', '.join(stand_ins)} stands in for {', '.join(models)}, whose weights are not "
            f"available here ({', '.join(e for t in found.models for e in found.models[t].names)}); "
            f"the [{'], ['.join(replaced)}] settings are those of {offline_config.name}."
        )
        lines.append(f"  - {stand_in} Results go to {config.run_dir}/.")
    if found.dissect is not None:
        lines.append(
            "  - dissection: the reference CLIP-Dissect runs of the two ResNet18s are analysed instead of "
            f"computed here ({', '.join(found.dissect.names)} missing)."
        )
    lines.append(
        "To run the configuration itself, provide these files (connect to the internet, or "
        "put them in a folder named by EXPLAINLAB_MIRROR, or in TORCH_HOME) and rerun; "
        "--strict refuses stand-ins."
    )
    return "\n".join(lines), stand_in


def _run(ctx: Context) -> RunOutcome:
    config = ctx.config
    started = manifest.now()
    device = resolve_device(config.run.device)
    ran = [s for s in STAGES if s in config.run.stages]
    for stage in ran:  # loaded once, before any stage: the manifest names their weights
        if stage in _STAGE_MODEL:
            ctx.model(getattr(config, _STAGE_MODEL[stage]).model)
    identity = _run_identity(ctx, started, device)
    outcome = RunOutcome(config, ctx.stand_in)
    for name in ran:
        start = time.perf_counter()
        print(f"\n── stage {name} ({device.type}) ──", flush=True)
        outcome.results[name] = STAGE_FUNCTIONS[name](ctx)
        outcome.stage_seconds[name] = time.perf_counter() - start
        _write_manifest(ctx, identity, outcome)
    return outcome


def _run_identity(ctx: Context, started: str, device: torch.device) -> dict[str, Any]:
    """What the manifest says of the run as a whole: computed once (the checksums read
    every image and every weight), while the stages' part is rewritten after each stage."""
    config = ctx.config
    return {
        "config_file": config.source,
        "config": config.to_dict(),
        "stand_in": ctx.stand_in or None,
        "dissect_fallback": (
            f"reference CLIP-Dissect runs analysed; missing: {', '.join(ctx.dissect_missing.names)}"
            if ctx.dissect_missing
            else None
        ),
        "seeds": {
            "run": config.run.seed,
            "lime": config.lime.seed,
            "tune": config.tune.seed,
            "compare": config.compare.seed,
            "dissect": config.dissect.seed,
        },
        "device": str(device),
        "started": started,
        "code": manifest.git_commit(Path(__file__).resolve().parents[2]),
        "images": {
            s.key: {"path": str(s.path), "sha256": assets.file_digest(s.path)}
            for s in ctx.sources
            if s.path.is_file()
        },
        "models": {
            n: {
                "weights_sha256": weights_sha256(m.module),
                "source": m.spec.weights_source,
                "geometry": m.geometry.to_dict(),
                "geometry_source": m.spec.geometry_source,
            }
            for n, m in ctx.models.items()
        },
    }


def _write_manifest(ctx: Context, identity: dict[str, Any], outcome: RunOutcome) -> None:
    """Rewritten after every stage, so an interrupted run still records what it did."""
    manifest.write_manifest(
        ctx.run_dir,
        {
            **identity,
            "finished": manifest.now(),
            "stages": {
                n: {"seconds": round(outcome.stage_seconds[n], 2), "skipped": r.skipped, **r.facts}
                for n, r in outcome.results.items()
            },
            "failures": {f.key: f.error for f in outcome.failures},
        },
    )


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
            lines.append(f"  … ({len(result.summary) - 14} more lines in {run_dir / name})")
    lines.append(f"\nmanifest: {run_dir / 'manifest.json'}")
    return "\n".join(lines)
