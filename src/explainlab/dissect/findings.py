"""The findings of an analysis that ``summary.md`` and report 1 both state, as typed
records computed once from its tables (in memory, or read back from its CSV files):
the concepts' stability per layer, the headline findings checked in every replicate, and
the verdicts against the reference runs. Their words are defined here or in
:mod:`explainlab.dissect.stability`; the two renderers only format the numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from explainlab.dissect.stability import FLIPS, PARTLY, STABLE

HEADLINE_KEY = ["finding", "model", "layer", "subject"]
CLOSENESS = {True: ("as close", "as"), False: ("less close", "than")}  # word, comparison


def truth(value: object) -> bool:
    """A boolean cell, in memory or as read back from CSV ("True")."""
    return str(value) == "True"


def span(low: object, high: object, say: Callable[[object], str] = str) -> str:
    """``low``, or ``low–high`` when the two differ."""
    return say(low) if low == high else f"{say(low)}–{say(high)}"


def with_range(value: int, low: int, high: int) -> str:
    """A count with its range over the runs in brackets, when the runs differ."""
    return f"{value} ({low}–{high})" if low != high else str(value)


def run_list(names: Sequence[str]) -> str:
    return " and ".join(f"run {n}" for n in names)


@dataclass(frozen=True, kw_only=True)
class ConceptStatus:
    """How many of a layer's concepts are stable, partly stable and flip
    (:data:`~explainlab.dissect.stability.STABLE` ...)."""

    stable: int
    partly: int
    flips: int

    @classmethod
    def of(cls, concepts: pd.DataFrame) -> ConceptStatus:
        """From the rows of ``concept_stability.csv`` of one model and layer."""
        status = concepts["status"].value_counts()
        return cls(
            stable=int(status.get(STABLE, 0)),
            partly=int(status.get(PARTLY, 0)),
            flips=int(status.get(FLIPS, 0)),
        )


@dataclass(frozen=True, kw_only=True)
class HeadlineCheck:
    """One headline finding evaluated in every replicate."""

    finding: str
    model: str
    layer: str
    subject: str
    holds: bool
    values: tuple[tuple[str, str], ...]  # (replicate, value), the main replicate first

    def per_run(self) -> str:
        """``run a: X; run b: Y``."""
        return "; ".join(f"run {r}: {v}" for r, v in self.values)


@dataclass(frozen=True, kw_only=True)
class Headlines:
    """The headline findings of ``stability_findings.csv`` (one row per replicate) or of
    ``headline_checks.csv`` (one row per finding, without the replicates' values)."""

    checks: tuple[HeadlineCheck, ...]

    @classmethod
    def of(cls, table: pd.DataFrame) -> Headlines:
        table = table.reindex(columns=[*HEADLINE_KEY, "replicate", "value", "holds"], fill_value="")
        checks = []
        for key, part in table.groupby(HEADLINE_KEY, sort=False):
            named = dict(zip(HEADLINE_KEY, key, strict=True))
            values = zip(part["replicate"].astype(str), part["value"].astype(str), strict=True)
            holds = truth(part["holds"].iloc[0])
            checks.append(HeadlineCheck(**named, holds=holds, values=tuple(values)))
        return cls(checks=tuple(checks))

    @property
    def held(self) -> int:
        return sum(c.holds for c in self.checks)

    @property
    def flips(self) -> list[HeadlineCheck]:
        return [c for c in self.checks if not c.holds]

    def get(self, finding: str, model: str, layer: str = "", subject: str = ""):
        """The check of one finding (None when it was not checked)."""
        key = (finding, model, layer, subject)
        return next(
            (c for c in self.checks if (c.finding, c.model, c.layer, c.subject) == key), None
        )


@dataclass(frozen=True, kw_only=True)
class ReferenceVerdict:
    """An analysed model's layer against the reference files of its model
    (``reference_verdicts.csv``)."""

    model: str
    layer: str
    references: int
    ours_min: float
    ours_max: float
    reference_self: float
    as_close: bool

    @classmethod
    def rows(cls, verdicts: pd.DataFrame) -> list[ReferenceVerdict]:
        return [
            cls(
                model=r.model,
                layer=r.layer,
                references=int(r.references),
                ours_min=float(r.ours_min),
                ours_max=float(r.ours_max),
                reference_self=float(r.reference_self),
                as_close=truth(r.as_close),
            )
            for r in verdicts.itertuples(index=False)
        ]

    def ours(self, say: Callable[[float], str]) -> str:
        """The agreement with each reference file: one value, or its range."""
        return span(self.ours_min, self.ours_max, say)

    @property
    def word(self) -> str:
        return CLOSENESS[self.as_close][0]

    @property
    def sentence(self) -> str:
        word, than = CLOSENESS[self.as_close]
        return f"{word} to the reference {than} the reference is to itself"
