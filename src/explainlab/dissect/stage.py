"""The dissection step of the whole run (``explainlab run``): dissect, then analyse;
without the files that needs offline (CLIP weights, Broden, model weights), analyse the
reference CLIP-Dissect code's two runs on the assignment's configuration instead,
labelled as such."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from explainlab import assets
from explainlab import estimate as estimates
from explainlab.context import Context, StageResult
from explainlab.dissect import clip_features
from explainlab.dissect.analysis import AnalysisOutcome, analyze_reference_runs, analyze_run
from explainlab.dissect.probes import BRODEN, BRODEN_ZIP
from explainlab.dissect.run import DissectOutcome, run_dissect
from explainlab.dissect.settings import CONCEPT_SETS, DissectSettings
from explainlab.errors import MissingAssetsError
from explainlab.models import require_weights, resolve_device

BRODEN_IMAGE_COUNT = 63_305  # images of broden1_224, for the time estimate


@dataclass
class DissectStageOutcome:
    analysis: AnalysisOutcome
    dissect: DissectOutcome | None = None  # None when the reference runs stood in
    fallback_reason: str = ""
    notes: list[str] = field(default_factory=list)


def missing_inputs(settings: DissectSettings) -> MissingAssetsError | None:
    """Every file the dissection needs that cannot be had, in one error (or None): the
    models' weights, CLIP's, Broden and the concept set. They are obtained now (downloads
    included), so a run learns what is missing before any work."""
    checks = [lambda m=m: require_weights(m) for m in settings.models]
    checks.append(
        lambda: clip_features.require_weights(settings.clip_model, settings.clip_pretrained)
    )
    if BRODEN in settings.probe:
        checks.append(lambda: assets.fetch(BRODEN_ZIP))
    if settings.concept_set in CONCEPT_SETS:
        checks.append(lambda: assets.fetch(CONCEPT_SETS[settings.concept_set]))
    errors: list[MissingAssetsError] = []
    for check in checks:
        try:
            check()
        except MissingAssetsError as exc:
            errors.append(exc)
    return MissingAssetsError.combine(errors) if errors else None


def run_dissect_stage(
    settings: DissectSettings,
    run_dir: Path,
    *,
    device: str = "auto",
    allow_published_fallback: bool = True,
    missing: MissingAssetsError | None = None,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> DissectStageOutcome:
    """Dissect ``settings.models`` and analyse them under ``<run>/dissect/``. When files
    are missing (``missing``, from :func:`missing_inputs`, or found missing on the way) and
    ``allow_published_fallback``, analyse the reference code's runs of the assignment's
    models instead (:func:`analyze_reference_runs`), labelled as such; otherwise the
    missing files are the error."""
    try:
        if missing is not None:
            raise missing
        outcome = run_dissect(settings, run_dir, device=device, force=force, on_start=on_start)
    except MissingAssetsError as exc:
        if not allow_published_fallback:
            raise
        reason = fallback_reason(exc)
        print(reason, file=sys.stderr)
        analysis = analyze_reference_runs(run_dir, _missing(exc), force=force)
        return DissectStageOutcome(analysis, None, reason)
    return DissectStageOutcome(analyze_run(run_dir, force=force), outcome, "", list(outcome.notes))


def fallback_reason(exc: MissingAssetsError) -> str:
    """What stood in and why, for the manifest and the run summary."""
    return (
        "the reference CLIP-Dissect code's runs on the assignment's configuration (ResNet18 "
        f"ImageNet and ResNet18 Places365) are analysed, not labels computed here: {_missing(exc)}"
    )


def _missing(exc: MissingAssetsError) -> str:
    return f"the dissection needs files that are not available here ({', '.join(exc.names)})"


# --- the stage of a run (explainlab run) ---------------------------------------------------


def estimate(ctx: Context) -> str | None:
    settings = ctx.config.dissect
    images = settings.probe_limit or (BRODEN_IMAGE_COUNT if BRODEN in settings.probe else 0)
    if not images or ctx.dissect_missing is not None:
        return None
    seconds = estimates.dissect_seconds(
        images, len(settings.models), resolve_device(ctx.config.run.device)
    )
    return (
        f"estimate (cpu): dissect ≈ {estimates.describe(seconds)} for {images:,} probe images, "
        f"{len(settings.models)} model(s) and CLIP"
    )


def run_stage(ctx: Context) -> StageResult:
    settings = ctx.config.dissect
    outcome = run_dissect_stage(
        settings,
        ctx.run_dir,
        device=ctx.config.run.device,
        missing=ctx.dissect_missing,
        force=ctx.forced("dissect"),
        on_start=ctx.starting("dissect"),
    )
    lines = [f"analysis: {outcome.analysis.folder}"]
    if outcome.fallback_reason:
        lines.insert(0, f"DISSECTION FALLBACK: {outcome.fallback_reason}")
    lines += outcome.notes
    failures = outcome.dissect.failures if outcome.dissect else []
    skipped = outcome.analysis.skipped and (
        outcome.dissect is None or set(outcome.dissect.skipped) == set(settings.models)
    )
    return StageResult(
        lines,
        skipped,
        failures,
        {"published_fallback": outcome.fallback_reason or None, "models": list(settings.models)},
    )
