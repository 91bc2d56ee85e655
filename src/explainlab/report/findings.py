"""Page 1 of a report: the question, the key figure, three to five explained findings.

A :class:`Finding` is chosen by a rule from the run's own numbers (so another run gets
other findings): a claim, its evidence (the numbers and the file they come from) and
its reason (the mechanism that produces it). Where the numbers do not support a claim
(ten images, a difference inside the run-to-run spread), the rule returns a finding
that says so instead. A :class:`Missed` target is stated on page 1 too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from explainlab.report.pdf import PAGE_HEIGHT, Report, text

MAX_FINDINGS = 5


@dataclass(frozen=True)
class Finding:
    """One finding; the fields are report markup (escape data with :func:`text`)."""

    claim: str  # what the run shows, one sentence
    evidence: str  # the numbers and where they come from (file or table)
    reason: str  # why: the mechanism behind it; for an unsupported claim, why not

    def markup(self) -> str:
        return f"<b>{self.claim}</b> {self.evidence} <i>Why:</i> {self.reason}"


@dataclass(frozen=True)
class Missed:
    """A target of the run's own that it did not meet, and what that means."""

    target: str
    outcome: str

    def markup(self) -> str:
        return f"<b>Target not met: {self.target}.</b> {self.outcome}"


def front_page(
    report: Report,
    *,
    question: str,
    setting: str,
    figure: Path | None,
    caption: str,
    findings: Sequence[Finding],
    missed: Sequence[Missed] = (),
    appendix: str = "",
    figure_height: float = 0.36 * PAGE_HEIGHT,
) -> None:
    """The deliverable's first page: the assignment's question, one paragraph on what was
    done (``setting``, with the one stand-in sentence when there is one), the key figure,
    the findings (at most :data:`MAX_FINDINGS`) and any missed target, then what the
    appendix holds."""
    if not findings:
        raise ValueError("a report needs at least one finding")
    report.paragraph(f"<b>The question.</b> {question}")
    report.paragraph(setting)
    for item in missed:
        report.paragraph(item.markup())
    if figure is not None and Path(figure).is_file():
        report.figure(Path(figure), caption=caption, max_height=figure_height)
    report.heading("Findings", level=2)
    report.bullets([f.markup() for f in findings[:MAX_FINDINGS]])
    if appendix:
        report.paragraph(f"<i>In the appendix (next pages):</i> {appendix}")


def file_ref(path: str) -> str:
    """A run file named as evidence: ``(cam/predictions.csv)``."""
    return f"({text(path)})"
