"""Report 1's findings, each chosen by a rule from the analysis tables: the move from
low-level to high-level concepts over the layers, the difference Places365's scene
training makes, the distinct objects each model learned, and how stable the labels are
from one run of CLIP-Dissect to another. A rule whose numbers do not support its claim
(a change inside the run-to-run spread, overlapping ranges) says so instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explainlab.assignment.report.common import join_names, pct
from explainlab.dissect.figures import model_name
from explainlab.dissect.findings import Headlines, truth, with_range
from explainlab.dissect.tables import ALL_LAYERS
from explainlab.report.findings import Finding, file_ref

ANALYSIS = ""  # the findings name files of dissect/analysis/ (said once, on page 1)


@dataclass(kw_only=True)
class DissectTables:
    """The analysis tables the findings read (``None``: not written by this analysis)."""

    trend: pd.DataFrame | None
    contrast: pd.DataFrame | None
    distinct: pd.DataFrame
    ranges: pd.DataFrame | None
    agreement: pd.DataFrame | None
    checks: pd.DataFrame | None
    rises: pd.DataFrame | None
    counts: pd.DataFrame

    @classmethod
    def read(cls, folder: Path) -> DissectTables:
        def table(name: str) -> pd.DataFrame | None:
            path = folder / name
            # concepts are words ("none", "nan" ...), and a finding may have no layer
            return pd.read_csv(path, keep_default_na=False) if path.is_file() else None

        return cls(
            trend=table("category_trend.csv"),
            contrast=table("category_contrast.csv"),
            distinct=pd.read_csv(folder / "distinct_concepts.csv"),
            ranges=table("run_count_ranges.csv"),
            agreement=table("run_agreement.csv"),
            checks=table("headline_checks.csv"),
            rises=table("stability_rises.csv"),
            counts=pd.read_csv(folder / "concept_counts.csv", keep_default_na=False),
        )


def _runs(n: int) -> str:
    return "in both runs" if n == 2 else f"in all {n} runs" if n > 2 else "in the one run"


def _supported(rows: pd.DataFrame) -> bool:
    return bool(len(rows)) and rows["supported"].map(truth).all()


def _arrow(row) -> str:
    return f"{pct(row.share_first)} → {pct(row.share_last)}"


def progression(trend: pd.DataFrame) -> Finding:
    """Colour/texture/material units falling and object/part/scene units rising from the
    first layer to the last, in every model and run, beyond the run-to-run spread."""
    low, high = (trend[trend["group"] == g] for g in ("low-level", "high-level"))
    first, last = trend["first_layer"].iloc[0], trend["last_layer"].iloc[0]
    names = [model_name(m) for m in low["model"]]
    evidence = (
        f"Units labelled with a colour, texture or material, {first} → {last}: "
        + "; ".join(f"{n} {_arrow(r)}" for n, r in zip(names, low.itertuples(), strict=True))
        + ". With an object, part or scene: "
        + "; ".join(f"{n} {_arrow(r)}" for n, r in zip(names, high.itertuples(), strict=True))
        + f" {file_ref(ANALYSIS + 'category_trend.csv')}."
    )
    falls = _supported(low) and (low["change_max"].astype(float) < 0).all()
    rises = _supported(high) and (high["change_min"].astype(float) > 0).all()
    if falls and rises:
        return Finding(
            f"From {first} to {last} the units turn from colours and textures to objects and "
            f"scenes, in both models and {_runs(int(low['runs'].min()))}.",
            evidence[:-1] + ", each change beyond its run-to-run spread.",
            f"deeper stages stack more convolutions at lower resolution: a {last} unit sees "
            f"most of the image and combines the parts found below it; a {first} unit sees a "
            "small patch, where only colour and texture show.",
        )
    return Finding(
        f"A move from colours and textures to objects and scenes from {first} to {last} is "
        "not supported by this run.",
        evidence,
        "at least one change goes the other way or is inside the run-to-run spread of the "
        "shares (column spread), so the runs do not agree on it.",
    )


def scene_training(contrast: pd.DataFrame) -> Finding:
    """Whether the second model's last layer has a larger share of scene units than the
    first's (Places365 against ImageNet), beyond the run-to-run spread."""
    layer = contrast["layer"].iloc[-1]
    rows = contrast[contrast["layer"] == layer].set_index("group")
    scene, objects = rows.loc["scene"], rows.loc["object"]
    a, b = model_name(scene["model_a"]), model_name(scene["model_b"])
    evidence = (
        f"{layer} units on a scene: {b} {pct(scene['share_b'])}, {a} "
        f"{pct(scene['share_a'])}; on an object or part: {pct(objects['share_b'])} against "
        f"{pct(objects['share_a'])} {file_ref(ANALYSIS + 'category_contrast.csv')}."
    )
    diff_min, diff_max = float(scene["diff_min"]), float(scene["diff_max"])
    if _supported(rows.loc[["scene"]]) and diff_min > 0:
        return Finding(
            f"{b}'s scene training shows in {layer}: it has more scene units than {a}'s.",
            evidence
            + f" Scene difference {_span(diff_min, diff_max)} {_runs(int(scene['runs']))}, "
            f"run-to-run spread {pct(scene['spread'])}.",
            f"{b}'s classes are scenes (bathroom, kitchen, closet), so its last stage keeps units "
            f"for whole room layouts; {a}'s classes are objects, mostly animals.",
        )
    return Finding(
        f"A larger share of scene units in {b}'s {layer} than in {a}'s is not supported.",
        evidence + f" The difference ranges {_span(diff_min, diff_max)} over the runs, against "
        f"a run-to-run spread of {pct(scene['spread'])}.",
        "the difference changes sign between the runs or is no larger than the spread, so a "
        "rerun of CLIP-Dissect could reverse it.",
    )


def _span(low: float, high: float) -> str:
    return pct(low) if pct(low) == pct(high) else f"{pct(low)}–{pct(high)}"


def _count(ranges: pd.DataFrame, model: str, layer: str, value: int) -> tuple[str, int, int]:
    r = ranges[
        (ranges["model"] == model)
        & (ranges["layer"] == layer)
        & (ranges["measure"] == "distinct_object")
    ]
    if r.empty:
        return str(value), value, value
    low, high = int(r["min"].iloc[0]), int(r["max"].iloc[0])
    return with_range(value, low, high), low, high


def distinct_objects(distinct: pd.DataFrame, ranges: pd.DataFrame | None, models: dict) -> Finding:
    """How many distinct object concepts each model uses over all its layers, with the
    range over the runs; which learned more, unless the ranges overlap."""
    ranges = ranges if ranges is not None else pd.DataFrame(columns=["model", "layer", "measure"])
    pooled = distinct[distinct["layer"] == ALL_LAYERS].set_index("model")
    said, bounds = [], []
    for label, model in models.items():
        text_, low, high = _count(
            ranges, model, ALL_LAYERS, int(pooled.loc[label, "distinct_object"])
        )
        said.append(f"{model_name(model)} {text_}")
        bounds.append((low, high, model_name(model)))
    evidence = (
        "Distinct object concepts over all layers (range over the runs): "
        + ", ".join(said)
        + f" {file_ref(ANALYSIS + 'run_count_ranges.csv')}."
    )
    reason = (
        "an object is a Broden object or part or an ImageNet class name; uncategorised "
        "concepts are not counted, so these are lower bounds, and counting ImageNet's class "
        "names favours the ImageNet model"
    )
    (la, ha, a), (lb, hb, b) = bounds[:2]
    if ha < lb or hb < la:
        more, fewer = (b, a) if lb > ha else (a, b)
        return Finding(
            f"The {more} model learned more distinct objects than the {fewer} one.",
            evidence,
            reason + ".",
        )
    return Finding(
        f"Neither model learned clearly more distinct objects: the {a} and {b} counts overlap "
        "over the runs.",
        evidence,
        reason + "; a count inside the other's run-to-run range does not separate them.",
    )


def stability(
    agreement: pd.DataFrame, checks: pd.DataFrame | None, rises: pd.DataFrame | None
) -> Finding:
    """How often the runs label a unit alike per layer, how many headline findings hold
    in every run, and whether agreement rises with the similarity score."""
    per_layer = agreement[agreement["layer"] != ALL_LAYERS]
    said = [
        f"{model_name(m)} " + ", ".join(pct(r) for r in part["same_label_rate"])
        for m, part in per_layer.groupby("model", sort=False)
    ]
    layers = list(dict.fromkeys(per_layer["layer"]))
    evidence = (
        f"The same label in every run, {join_names(layers)}: "
        + "; ".join(said)
        + f" {file_ref(ANALYSIS + 'run_agreement.csv')}."
    )
    claim = "Most labels repeat between runs"
    headlines = Headlines.of(checks) if checks is not None else Headlines(checks=())
    if headlines.checks:
        flips = "; ".join(f"{r.finding}, {r.layer}" for r in headlines.flips)
        evidence += (
            f" Headline findings holding in every run: {headlines.held} of "
            f"{len(headlines.checks)}" + (f" (flipping: {flips})" if flips else "")
        ) + f" {file_ref(ANALYSIS + 'headline_checks.csv')}."
        every = not headlines.flips
        claim += ", and " + ("every headline finding holds" if every else "most findings hold")
    reason = "the runs differ only by floating-point rounding, which moves a label only where a "
    reason += "unit's best concepts score almost alike"
    if rises is not None and len(rises):
        up = rises["rises"].map(truth)
        evidence += (
            f" Agreement rises with the similarity score in {int(up.sum())} of {len(rises)} rows "
            f"{file_ref(ANALYSIS + 'stability_rises.csv')}."
        )
        reason += ", i.e. where the similarity is low" if up.mean() > 0.5 else ""
    return Finding(claim + ".", evidence, reason + ".")


def choose(t: DissectTables, models: dict[str, str]) -> list[Finding]:
    """The findings this analysis supports, in the order of the assignment's question.
    ``models``: each analysed label -> its canonical model."""
    found = []
    if t.trend is not None and len(t.trend):
        found.append(progression(t.trend))
    if t.contrast is not None and {"scene", "object"} <= set(t.contrast["group"]):
        found.append(scene_training(t.contrast))
    if len(models) >= 2:
        found.append(distinct_objects(t.distinct, t.ranges, models))
    if t.agreement is not None and len(t.agreement):
        found.append(stability(t.agreement, t.checks, t.rises))
    return found
