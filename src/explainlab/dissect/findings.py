"""The findings of an analysis as one typed record, :class:`DissectFindings`: computed
once from its tables (:func:`explainlab.dissect.statements.state`), written beside them
as ``findings.json`` and read back. ``summary.md`` (:mod:`explainlab.dissect.summary`)
and report 1 are two renderers of it: every sentence, word and threshold of a finding
is in the record or defined here and in :mod:`explainlab.dissect.stability`; the
renderers only lay it out. The fields are plain text (no markup): each renderer styles
them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from explainlab.dissect.stability import FLIPS, PARTLY, STABLE
from explainlab.report.findings import Finding

FINDINGS_FILE = "findings.json"
HEADLINE_KEY = ["finding", "model", "layer", "subject"]
CLOSENESS = {True: ("as close", "as"), False: ("less close", "than")}  # word, comparison


def pct(x: float) -> str:
    """A share in percent: whole percents, one decimal below 1% ("n/a" for NaN)."""
    if x != x:
        return "n/a"
    return f"{100 * x:.0f}%" if abs(x) >= 0.01 or x == 0 else f"{100 * x:.1f}%"


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

    MEANING = (  # what each status means, said once wherever they are counted
        f"A concept is {STABLE} when it labels the same units in every run, {PARTLY} when "
        f"some of its units keep it, and it {FLIPS} when no unit keeps it in every run."
    )

    def __str__(self) -> str:
        return f"{self.stable} {STABLE}, {self.partly} {PARTLY} and {self.flips} {FLIPS}"

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


@dataclass(frozen=True, kw_only=True)
class TopConcepts:
    """The concepts that label most units of one model's layer (or of all its layers)."""

    model: str  # the label analysed
    layer: str
    units: int
    concepts: tuple[tuple[str, int], ...]  # (concept, units), the most frequent first
    stability: str = ""  # whether they are those of every run ("": one run)
    ranges: tuple[tuple[int, int], ...] = ()  # each concept's fewest and most units in a run

    def said(self, n: int) -> str:
        """The first ``n``: ``'dotted' 23, 'stripe' 8 (7–8)``, the range over the runs in
        brackets where they differ."""
        ranges = self.ranges or tuple((units, units) for _, units in self.concepts)
        return ", ".join(
            f"'{c}' {with_range(units, *spread)}"
            for (c, units), spread in zip(self.concepts[:n], ranges, strict=False)
        )


@dataclass(frozen=True, kw_only=True)
class DissectFindings:
    """Everything an analysis states in sentences; a statement it cannot make (one model,
    one run, no reference) is empty."""

    title: str
    kind: str  # what was analysed (analysis.KINDS)
    caveats: tuple[str, ...]  # whose labels these are, when not computed here
    models: dict[str, str]  # label analysed -> its canonical model
    runs: dict[str, list[str]]  # model -> its run names, where it has several
    headlines: tuple[Finding, ...]  # the answers, in the order of the question
    reliability: tuple[Finding, ...]  # how far the runs agree (none with one run)
    top_concepts: tuple[TopConcepts, ...]
    comparison: str  # which of two models has more distinct and object concepts, per layer
    categories: str  # how many concepts have a category, and from where
    category_sources: str  # the category sources checked
    coverage: str  # the share of every layer's units with a WordNet category
    coverage_layers: str  # that share per model and layer
    overlap: str  # the concepts both models use, per layer
    over_represented: str  # the concepts most over-represented in each model
    stability: str  # units labelled alike by every run, per model; the concept statuses
    rises: str  # whether agreement rises with the similarity score
    checks: str  # the headline findings that hold in every run
    reference: str  # how many layers are as close to the reference as it is to itself
    verdicts: tuple[ReferenceVerdict, ...] = field(default=())

    def write(self, folder: Path) -> Path:
        from explainlab import runfolder

        return runfolder.write_json(Path(folder) / FINDINGS_FILE, asdict(self))

    @classmethod
    def read(cls, folder: Path) -> DissectFindings:
        path = Path(folder) / FINDINGS_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no findings record (an analysis written before there was one): "
                "rerun the analysis (explainlab dissect analyze, or the run's dissect stage)"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        top = [
            TopConcepts(
                **t
                | {"concepts": tuple(map(tuple, t["concepts"]))}
                | {"ranges": tuple(map(tuple, t.get("ranges", ())))}
            )
            for t in data.pop("top_concepts")
        ]
        return cls(
            **data
            | {
                "caveats": tuple(data["caveats"]),
                "headlines": tuple(Finding.of(f) for f in data["headlines"]),
                "reliability": tuple(Finding.of(f) for f in data["reliability"]),
                "top_concepts": tuple(top),
                "verdicts": tuple(ReferenceVerdict(**v) for v in data["verdicts"]),
            }
        )

    def top(self, model: str, layer: str) -> TopConcepts | None:
        return next((t for t in self.top_concepts if (t.model, t.layer) == (model, layer)), None)
