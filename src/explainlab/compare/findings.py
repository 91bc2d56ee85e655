"""The comparison's findings that ``summary.txt`` and report 4 both state, as typed
records read once from the stage's numbers (``summary.json``, or its faithfulness table):
the verdicts of the sanity check, the faithfulness of each map against the random order,
the images whose CAM and LIME explain different classes. Their words and thresholds are
defined here, the measures' names and directions in :mod:`explainlab.measures`; the two
renderers only format the numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from explainlab.measures import MeasureSpec, get_measure, measures

# The agreement measure of the headline (page 1, the overview figure, the complexity
# analysis): the CAM's top pixels covering LIME's mask area, no threshold to choose.
HEADLINE = "iou_area"
# Sanity verdict from the mean rank correlation with the original map at the last step.
CHANGED_BELOW, UNCHANGED_ABOVE = 0.3, 0.7
STRONGLY, PARTLY, BARELY = "changes strongly", "changes partly", "barely changes"
VERDICT_MEASURE = "spearman"  # the sanity measure the verdict reads
RANDOM = "random"  # the faithfulness baseline's method name
MISMATCH = "CAM and LIME explain different classes for"


def sanity_verdict(rho: float) -> str:
    if rho < CHANGED_BELOW:
        return STRONGLY
    if rho > UNCHANGED_ABOVE:
        return BARELY
    return PARTLY


def beats_column(spec: MeasureSpec) -> str:
    """The faithfulness table's column counting the images where a map beats the random
    order by ``spec`` (``deletion_beats_random``)."""
    return f"{spec.short.replace(' ', '_')}_beats_random"


def wins_key(spec: MeasureSpec) -> str:
    """summary.json's count of images where one map beats the other by ``spec``."""
    return f"{spec.short.replace(' ', '_')}_wins"


@dataclass(frozen=True, kw_only=True)
class SanityFinal:
    """One method after the whole cascade: its mean similarity to its original map."""

    method: str
    values: dict[str, float | None]  # sanity measure -> mean over the images
    verdict: str

    @property
    def rho(self) -> float | None:
        return self.values.get(VERDICT_MEASURE)


@dataclass(frozen=True, kw_only=True)
class Sanity:
    """The sanity check's outcome: the blocks randomised, and each method's verdict."""

    blocks: tuple[str, ...]
    images: int
    final: tuple[SanityFinal, ...]
    thresholds: tuple[float, float] | None  # (changed below, unchanged above); older runs: None

    @classmethod
    def of(cls, numbers: Mapping[str, Any]) -> Sanity | None:
        """From summary.json's ``sanity`` (None when the check did not run)."""
        s = numbers.get("sanity")
        if not s:
            return None
        final = tuple(
            SanityFinal(
                method=m,
                values={k: v for k, v in f.items() if k != "verdict"},
                verdict=f["verdict"],
            )
            for m, f in s.get("final", {}).items()
        )
        thresholds = (s["changed_below"], s["unchanged_above"]) if "changed_below" in s else None
        return cls(
            blocks=tuple(s["blocks"]), images=s["images"], final=final, thresholds=thresholds
        )

    def with_verdict(self, verdict: str) -> list[str]:
        return [f.method for f in self.final if f.verdict == verdict]

    def rule(self, name: str) -> str:
        """How the verdict follows from the similarity (named ``name``), empty for an
        older run that did not record the thresholds."""
        if self.thresholds is None:
            return ""
        low, high = self.thresholds
        return f"verdict from {name}: below {low:.1f} {STRONGLY}, above {high:.1f} {BARELY}"


@dataclass(frozen=True, kw_only=True)
class FaithfulnessRow:
    """One method's (or the random order's) mean faithfulness over the images."""

    method: str
    images: int
    means: dict[str, float | None]  # faithfulness measure -> mean
    beats_random: dict[str, int | None]  # faithfulness measure -> images; None: the baseline

    @classmethod
    def rows(cls, table: Sequence[Mapping[str, Any]]) -> list[FaithfulnessRow]:
        """From the rows of faithfulness_summary.csv (or summary.json's
        ``faithfulness_mean``, each with its ``method``)."""
        specs = measures("map")
        return [
            cls(
                method=str(r["method"]),
                images=int(r["images"]),
                means={s.name: _number(r.get(s.name)) for s in specs},
                beats_random={s.name: _count(r.get(beats_column(s))) for s in specs},
            )
            for r in table
        ]

    @property
    def is_baseline(self) -> bool:
        return self.method == RANDOM


def verdict_measure() -> MeasureSpec:
    return get_measure(VERDICT_MEASURE)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
