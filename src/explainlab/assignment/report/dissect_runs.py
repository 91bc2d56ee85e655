"""What report 1 needs to know of the runs behind an analysis: what was analysed
(``sources.json``), and, where a model has several runs, how stable each finding and
count is (the stability tables of ``dissect/stability.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explainlab.dissect.findings import Headlines, run_list


@dataclass
class AnalysisSources:
    """``sources.json`` of an analysis folder. Older folders have none: their kind is
    told by the summary's wording."""

    kind: str
    caveats: list[str] = field(default_factory=list)
    canonical: dict[str, str] = field(default_factory=dict)  # label -> canonical model
    runs: dict[str, list[str]] = field(default_factory=dict)  # model -> run names

    @classmethod
    def read(cls, folder: Path, summary_md: str) -> AnalysisSources:
        path = folder / "sources.json"
        if not path.is_file():
            published = "PUBLISHED" in summary_md or "(published)" in summary_md
            return cls("published" if published else "files")
        data = json.loads(path.read_text())
        canonical = {m["label"]: m["model"] for m in data.get("models", [])}
        return cls(data["kind"], list(data.get("caveats", [])), canonical, data.get("runs", {}))


@dataclass(kw_only=True)
class RunStability:
    """The stability tables of an analysis whose models have several runs."""

    sources: AnalysisSources
    agreement: pd.DataFrame
    ranges: pd.DataFrame
    concepts: pd.DataFrame
    by_similarity: pd.DataFrame
    findings: pd.DataFrame
    headlines: Headlines = field(init=False)  # the findings, one check each

    def __post_init__(self) -> None:
        self.headlines = Headlines.of(self.findings)

    @classmethod
    def read(cls, folder: Path, sources: AnalysisSources) -> RunStability | None:
        files = {
            "agreement": "run_agreement.csv",
            "ranges": "run_count_ranges.csv",
            "concepts": "concept_stability.csv",
            "by_similarity": "stability_by_similarity.csv",
            "findings": "stability_findings.csv",
        }
        if not all((folder / name).is_file() for name in files.values()):
            return None
        # concepts are words ("none", "nan" ...), and a finding may have no layer
        tables = {f: pd.read_csv(folder / n, keep_default_na=False) for f, n in files.items()}
        return cls(sources=sources, **tables)

    def model(self, label: str) -> str:
        return self.sources.canonical.get(label, label)

    def count(self, label: str, layer: str, measure: str, value: int) -> str:
        """``value`` with its run-to-run range, e.g. "278 (276–278)"."""
        r = self.ranges[
            (self.ranges["model"] == self.model(label))
            & (self.ranges["layer"] == layer)
            & (self.ranges["measure"] == measure)
        ]
        if r.empty:
            return str(value)
        return f"{value} ({int(r['min'].iloc[0])}–{int(r['max'].iloc[0])})"

    def holds(self, finding: str, model: str, layer: str = "", subject: str = "") -> bool | None:
        check = self.headlines.get(finding, model, layer, subject)
        return None if check is None else check.holds

    def top_note(self, label: str, layer: str) -> str:
        """Whether ``label``'s top concept (and top three) in ``layer`` are those of every run."""
        model = self.model(label)
        top = self.headlines.get("top concept", model, layer)
        three = self.headlines.get("top three concepts", model, layer)
        if top is None:
            return ""
        others = top.values[1:]
        if not top.holds:
            flipped = "; ".join(f"run {r}'s top concept is '{v}'" for r, v in others)
            return f" [flips: {flipped}]"
        runs = run_list([r for r, _ in others])
        if three is not None and not three.holds:
            return f" [top concept the same in {runs}; the top three differ]"
        return f" [the same in {runs}]"

    def layer_agreement(self, model: str) -> pd.DataFrame:
        """The analysed run's agreement with the others per layer (all runs when more)."""
        a = self.agreement[self.agreement["model"] == model]
        return a[a["run_a"].eq("all") | ~a.duplicated(["model", "layer"], keep=False)]
