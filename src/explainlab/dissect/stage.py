"""The dissection step of the whole run (``explainlab run``): dissect, then analyse;
without the files that needs offline (CLIP weights, Broden, model weights), analyse the
published CLIP-Dissect results instead, labelled as such."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from explainlab.dissect.analysis import AnalysisOutcome, analyze_published, analyze_run
from explainlab.dissect.run import DissectOutcome, run_dissect
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import MissingAssetsError


@dataclass
class DissectStageOutcome:
    analysis: AnalysisOutcome
    dissect: DissectOutcome | None = None  # None when the published results stood in
    fallback_reason: str = ""
    notes: list[str] = field(default_factory=list)


def run_dissect_stage(
    settings: DissectSettings,
    run_dir: Path,
    *,
    device: str = "auto",
    allow_published_fallback: bool = True,
    force: bool = False,
) -> DissectStageOutcome:
    """Dissect ``settings.models`` and analyse them under ``<run>/dissect/``; if files are
    missing offline and ``allow_published_fallback``, analyse the published results."""
    try:
        outcome = run_dissect(settings, run_dir, device=device, force=force)
    except MissingAssetsError as exc:
        if not allow_published_fallback:
            raise
        reason = f"dissection needs files that are not available here ({_names(exc)})"
        print(f"{reason}; analysing the published CLIP-Dissect results instead", file=sys.stderr)
        return DissectStageOutcome(analyze_published(run_dir, reason, force=force), None, reason)
    return DissectStageOutcome(analyze_run(run_dir, force=force), outcome, "", list(outcome.notes))


def _names(exc: MissingAssetsError) -> str:
    return ", ".join(name for name, _url, _where in exc.missing)
