"""Page 1 of a report: the question, the key figure, three to five explained findings.

A :class:`Finding` is chosen by a rule from the run's own numbers (so another run gets
other findings): a claim, its evidence (the numbers and the file they come from) and
its reason (the mechanism that produces it). Where the numbers do not support a claim
(ten images, a difference inside the run-to-run spread), the rule returns a finding
that says so instead. A :class:`Missed` target is stated on page 1 too.

The fields are report markup: ``<b>``, ``<i>`` and escaped data (:func:`text`). A PDF
prints them as they are; a text summary prints :meth:`Finding.markdown`, the same
sentences with ``**`` and ``*`` for the two tags. An analysis's findings record holds
them, so both state the same findings in the same words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from explainlab.report.markup import markdown, text

if TYPE_CHECKING:  # the findings are computed without reportlab; only a PDF needs it
    from explainlab.report.pdf import Report

MAX_FINDINGS = 5


@dataclass(frozen=True)
class Finding:
    """One finding; the fields are report markup (escape data with :func:`text`)."""

    claim: str  # what the run shows, one sentence
    evidence: str  # the numbers and where they come from (file or table)
    reason: str  # why: the mechanism behind it; for an unsupported claim, why not

    @classmethod
    def plain(cls, claim: str, evidence: str, reason: str) -> Finding:
        """A finding from plain text (escaped here)."""
        return cls(text(claim), text(evidence), text(reason))

    def markup(self) -> str:
        return f"<b>{self.claim}</b> {self.evidence} <i>Why:</i> {self.reason}"

    def markdown(self) -> str:
        return markdown(self.markup())

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def of(cls, data: Mapping[str, str]) -> Finding:
        return cls(claim=data["claim"], evidence=data["evidence"], reason=data["reason"])


@dataclass(frozen=True)
class Missed:
    """A target of the run's own that it did not meet, and what that means."""

    target: str
    outcome: str

    def markup(self) -> str:
        return f"<b>Target not met: {self.target}.</b> {self.outcome}"

    def markdown(self) -> str:
        return markdown(self.markup())

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def of(cls, data: Mapping[str, str]) -> Missed:
        return cls(target=data["target"], outcome=data["outcome"])


def markdown_lines(findings: Sequence[Finding], missed: Sequence[Missed] = ()) -> list[str]:
    """A text summary's findings: the missed targets, then the findings, one bullet each
    (every finding: a text summary has no page to fill)."""
    return [f"- {item.markdown()}" for item in (*missed, *findings)]


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
    figure_height: float | None = None,
) -> None:
    """The deliverable's first page: the assignment's question, one paragraph on what was
    done (``setting``, with the one stand-in sentence when there is one), the key figure,
    the findings (at most :data:`MAX_FINDINGS`) and any missed target, then what the
    appendix holds (``figure_height``: 0.36 of the page unless given)."""
    from explainlab.report.pdf import PAGE_HEIGHT

    if not findings:
        raise ValueError("a report needs at least one finding")
    report.paragraph(f"<b>The question.</b> {question}")
    report.paragraph(setting)
    for item in missed:
        report.paragraph(item.markup())
    if figure is not None and Path(figure).is_file():
        height = 0.36 * PAGE_HEIGHT if figure_height is None else figure_height
        report.figure(Path(figure), caption=caption, max_height=height)
    report.heading("Findings", level=2)
    report.bullets([f.markup() for f in findings[:MAX_FINDINGS]])
    if appendix:
        report.paragraph(f"<i>In the appendix (next pages):</i> {appendix}")


def file_ref(path: str) -> str:
    """A run file named as evidence: ``(cam/predictions.csv)``."""
    return f"({text(path)})"
