"""Label stability: how far several runs of CLIP-Dissect on the same model agree.

Runs are grouped by model (:func:`group_runs`); each model's first run is its main run,
the one the rest of the analysis describes. The tables compare labels unit by unit, so
the runs of a model must label the same units of a layer (an error otherwise).

Replicate i is the i-th run of every model. The analysis compares models within one
replicate (of the reference runs, run a of both models ran on a GPU, run b of both on
a CPU), so a headline finding holds when every replicate gives it
(:func:`headline_findings`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from explainlab.dissect import tables
from explainlab.dissect.categories import CategoryMap
from explainlab.dissect.tables import ALL_LAYERS, Descriptions
from explainlab.errors import InputError

AGREEMENT_COLUMNS = ["model", "layer", "run_a", "run_b", "units", "same_label", "same_label_rate"]
STABLE, PARTLY, FLIPS = "stable", "partly stable", "flips"
COUNT_MEASURES = ("distinct_concepts", "distinct_object", "units_object")
SIMILARITY_BANDS = 4  # quartiles


@dataclass
class RunGroup:
    """The runs of one model, main run first, with one distinct name per run."""

    model: str
    runs: list[Descriptions]

    @property
    def main(self) -> Descriptions:
        return self.runs[0]

    @property
    def names(self) -> list[str]:
        names = [d.run or str(i + 1) for i, d in enumerate(self.runs)]
        # two runs with one name (two files of the same run folder): number them instead
        return names if len(set(names)) == len(names) else [str(i + 1) for i in range(len(names))]

    @property
    def layers(self) -> list[str]:
        """The main run's layers that every run has."""
        return [x for x in self.main.layers if all(x in set(d.layers) for d in self.runs)]


def group_runs(inputs: Sequence[Descriptions]) -> list[RunGroup]:
    """Runs grouped by model in the order given, after checking that the runs of a model
    share layers and label the same units of each."""
    by_model: dict[str, list[Descriptions]] = {}
    for d in inputs:
        by_model.setdefault(d.model, []).append(d)
    return [_checked(RunGroup(model, runs)) for model, runs in by_model.items()]


def with_runs(mains: Sequence[Descriptions], runs: Sequence[Descriptions]) -> list[RunGroup]:
    """One group per file analysed (``mains``), holding the further ``runs`` of its model
    (all of them go to the first file of that model); checked like :func:`group_runs`."""
    groups = []
    for d in mains:
        first = next(m for m in mains if m.model == d.model) is d
        theirs = [r for r in runs if r.model == d.model] if first else []
        groups.append(_checked(RunGroup(d.model, [d, *theirs])))
    return groups


def _checked(group: RunGroup) -> RunGroup:
    main = group.main
    for other in group.runs[1:]:
        if not tables.check_same_units(main, other):
            raise InputError(
                f"{main.path} and {other.path}: two runs of {group.model} without a layer in "
                f"common ({', '.join(main.layers)} against {', '.join(other.layers)})",
                hint="give runs that label the same layers of the same model",
            )
    return group


def _with_all(layers: list[str]) -> list[str]:
    return [*layers, ALL_LAYERS] if len(layers) > 1 else layers


def label_frame(group: RunGroup, layer: str) -> pd.DataFrame:
    """Each unit's label in every run: index (layer, unit), one column per run name."""
    layers = group.layers if layer == ALL_LAYERS else [layer]
    columns = []
    for name, run in zip(group.names, group.runs, strict=True):
        part = run.table[run.table["layer"].isin(layers)]
        columns.append(part.set_index(["layer", "unit"])["description"].rename(name))
    return pd.concat(columns, axis=1)


def _unanimous(labels: pd.DataFrame) -> pd.Series:
    """Units whose label is the same in every run."""
    return labels.eq(labels.iloc[:, 0], axis=0).all(axis=1)


def run_agreement(groups: Sequence[RunGroup]) -> pd.DataFrame:
    """Per model with two runs or more, common layer (and all of them pooled) and pair of
    runs: the units with the same label in both; with more than two runs also the units
    labelled alike by all (run_a "all")."""
    rows = []
    for group in groups:
        if len(group.runs) < 2:
            continue
        for layer in _with_all(group.layers):
            labels = label_frame(group, layer)
            pairs = [(a, b, labels[a] == labels[b]) for a, b in combinations(group.names, 2)]
            if len(group.runs) > 2:
                pairs.append(("all", f"{len(group.runs)} runs", _unanimous(labels)))
            for a, b, same in pairs:
                rows.append(
                    [group.model, layer, a, b, len(labels), int(same.sum()), float(same.mean())]
                )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def reference_self_agreement(references: Sequence[Descriptions]) -> pd.DataFrame:
    """Every pair of reference files of the same model, per common layer: the units with
    the same label in both (how far the reference agrees with itself)."""
    rows = []
    for a, b in combinations(references, 2):
        if a.model != b.model:
            continue
        for layer in tables.check_same_units(a, b):
            merged = a.table[a.table["layer"] == layer].merge(
                b.table[b.table["layer"] == layer], on=["layer", "unit"], suffixes=("", "_b")
            )
            same = merged["description"] == merged["description_b"]
            rows.append(
                [a.model, layer, a.label, b.label, len(merged), int(same.sum()), float(same.mean())]
            )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def reference_verdicts(agreement: pd.DataFrame, self_agreement: pd.DataFrame) -> pd.DataFrame:
    """Per analysed model and layer: its agreement with each reference file of the same
    model (``agreement``, from :func:`tables.published_agreement`) beside the references' agreement with each other; ``as_close``
    when the mean of the first is at least the mean of the second."""
    columns = [
        "model",
        "layer",
        "references",
        "ours_min",
        "ours_max",
        "ours_mean",
        "reference_self",
        "as_close",
    ]
    if agreement.empty or self_agreement.empty:
        return pd.DataFrame(columns=columns)
    self_rate = self_agreement.groupby(["model", "layer"])["same_label_rate"].mean()
    rows = []
    for (model, canonical, layer), part in agreement.groupby(
        ["model", "canonical_model", "layer"], sort=False
    ):
        if (canonical, layer) not in self_rate.index:
            continue
        rates = part["same_concept_rate"]
        reference = float(self_rate[(canonical, layer)])
        rows.append(
            [
                model,
                layer,
                len(part),
                float(rates.min()),
                float(rates.max()),
                float(rates.mean()),
                reference,
                bool(rates.mean() >= reference),
            ]
        )
    return pd.DataFrame(rows, columns=columns)


def run_counts(groups: Sequence[RunGroup], cmap: CategoryMap) -> pd.DataFrame:
    """Per model with two runs or more, run and layer: distinct concepts, distinct object
    concepts and the units labelled with objects."""
    frames = []
    for group in groups:
        if len(group.runs) < 2:
            continue
        for name, run in zip(group.names, group.runs, strict=True):
            distinct = tables.distinct_concepts([run], cmap)
            frames.append(
                distinct[["layer", "units", *COUNT_MEASURES]].assign(model=group.model, run=name)
            )
    columns = ["model", "run", "layer", "units", *COUNT_MEASURES]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def count_ranges(counts: pd.DataFrame) -> pd.DataFrame:
    """Per model, layer and measure of :func:`run_counts`: the lowest and highest value
    over the runs, and their spread (highest minus lowest)."""
    rows = []
    for (model, layer), part in counts.groupby(["model", "layer"], sort=False):
        for measure in COUNT_MEASURES:
            low, high = int(part[measure].min()), int(part[measure].max())
            rows.append([model, layer, measure, len(part), low, high, high - low])
    return pd.DataFrame(rows, columns=["model", "layer", "measure", "runs", "min", "max", "spread"])


def concept_stability(groups: Sequence[RunGroup]) -> pd.DataFrame:
    """Per model with two runs or more, layer and concept (any run's): the units it
    labels in each run (main, fewest, most), the units it labels in every run
    (``units_kept``) and in any. ``stable``: the same units in every run; ``partly
    stable``: some units keep it; ``flips``: no unit keeps it in every run."""
    rows = []
    for group in groups:
        if len(group.runs) < 2:
            continue
        for layer in group.layers:
            labels = label_frame(group, layer)
            for concept in sorted(set(labels.to_numpy().ravel())):
                has = labels == concept
                per_run = has.sum()
                kept, anywhere = int(has.all(axis=1).sum()), int(has.any(axis=1).sum())
                status = STABLE if kept == anywhere else PARTLY if kept else FLIPS
                rows.append(
                    [
                        group.model,
                        layer,
                        concept,
                        int(per_run.iloc[0]),
                        int(per_run.min()),
                        int(per_run.max()),
                        kept,
                        anywhere,
                        status,
                    ]
                )
    table = pd.DataFrame(
        rows,
        columns=[
            "model",
            "layer",
            "concept",
            "units_main",
            "units_min",
            "units_max",
            "units_kept",
            "units_any",
            "status",
        ],
    )
    return table.sort_values(
        ["model", "layer", "units_any", "concept"],
        ascending=[True, True, False, True],
        kind="stable",
    )


def concept_count_ranges(groups: Sequence[RunGroup]) -> pd.DataFrame:
    """Per model (its main run's label), layer (and all of them pooled) and concept of the
    main run, ranked as in ``concept_counts.csv``: the units it labels in the main run and
    the fewest and most in any run (one run: the same)."""
    rows = []
    for group in groups:
        for layer in _with_all(group.layers):
            labels = label_frame(group, layer)
            counts = labels.apply(lambda column: column.value_counts()).fillna(0).astype(int)
            main = counts.iloc[:, 0]
            main = main[main > 0].sort_index().sort_values(ascending=False, kind="stable")
            for rank, (concept, units) in enumerate(main.items(), 1):
                per_run = counts.loc[concept]
                rows.append(
                    [
                        group.main.label,
                        layer,
                        rank,
                        concept,
                        int(units),
                        int(per_run.min()),
                        int(per_run.max()),
                        len(group.runs),
                    ]
                )
    columns = ["model", "layer", "rank", "concept", "units", "units_min", "units_max", "runs"]
    return pd.DataFrame(rows, columns=columns)


def stability_by_similarity(
    groups: Sequence[RunGroup], bands: int = SIMILARITY_BANDS
) -> pd.DataFrame:
    """Does agreement rise with the similarity score? Per model with two runs or more and
    layer, the units in ``bands`` equal-sized bands of the main run's similarity (band 1
    the lowest), and the share of each band labelled alike by every run; "all layers"
    pools the bands of the layers (bands are made within a layer: scales differ)."""
    rows = []
    for group in groups:
        main = group.main
        if len(group.runs) < 2 or "similarity" not in main.table.columns:
            continue
        pooled = []
        for layer in group.layers:
            labels = label_frame(group, layer)
            similarity = (
                main.table[main.table["layer"] == layer]
                .set_index(["layer", "unit"])["similarity"]
                .reindex(labels.index)
            )
            known = similarity.notna()
            if known.sum() < 2:
                continue
            k = min(bands, int(known.sum()))
            # ranks, not values: equal-sized bands even where scores tie
            band = pd.qcut(similarity[known].rank(method="first"), k, labels=False) + 1
            frame = pd.DataFrame(
                {"band": band, "similarity": similarity[known], "same": _unanimous(labels)[known]}
            )
            pooled.append(frame)
            rows.extend(_band_rows(group.model, layer, frame))
        if len(pooled) > 1:
            rows.extend(_band_rows(group.model, ALL_LAYERS, pd.concat(pooled)))
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "layer",
            "band",
            "similarity_from",
            "similarity_to",
            "units",
            "same_label",
            "same_label_rate",
        ],
    )


def _band_rows(model: str, layer: str, frame: pd.DataFrame) -> list[list]:
    rows = []
    for band, part in frame.groupby("band"):
        rows.append(
            [
                model,
                layer,
                int(band),
                float(part["similarity"].min()),
                float(part["similarity"].max()),
                len(part),
                int(part["same"].sum()),
                float(part["same"].mean()),
            ]
        )
    return rows


# --- headline findings -------------------------------------------------------------------


def replicates(groups: Sequence[RunGroup]) -> list[tuple[str, list[Descriptions]]]:
    """(name, the i-th run of every model) for every i that all models have; named by the
    runs' common name ("a"), else by number."""
    if not groups:
        return []
    out = []
    for i in range(min(len(g.runs) for g in groups)):
        names = {g.names[i] for g in groups}
        out.append((names.pop() if len(names) == 1 else str(i + 1), [g.runs[i] for g in groups]))
    return out


def _compare(value_a: float, value_b: float, a: str, b: str) -> str:
    return a if value_a > value_b else b if value_b > value_a else "equal"


def _replicate_findings(
    runs: Sequence[Descriptions], cmap: CategoryMap, watched: dict[tuple[str, str], list[str]]
) -> dict[tuple[str, str, str, str], str]:
    """(finding, model, layer, subject) -> value, in one replicate. Values name models by
    their canonical name, so that they compare across replicates."""
    found: dict[tuple[str, str, str, str], str] = {}
    counts = tables.concept_counts(runs)
    distinct = tables.distinct_concepts(runs, cmap)
    for d in runs:
        mine = counts[counts["model"] == d.label]
        for layer in d.layers:
            ranked = mine[mine["layer"] == layer].sort_values("rank")
            found[("top concept", d.model, layer, "")] = ranked["concept"].iloc[0]
            found[("top three concepts", d.model, layer, "")] = ", ".join(
                sorted(ranked["concept"].head(3))
            )
        per_layer = distinct[(distinct["model"] == d.label) & (distinct["layer"] != ALL_LAYERS)]
        if len(per_layer) > 1:
            first, last = per_layer.iloc[0], per_layer.iloc[-1]
            trend = _compare(last.distinct_concepts, first.distinct_concepts, "rises", "falls")
            found[("distinct concepts, first to last layer", d.model, "", "")] = (
                "stays" if trend == "equal" else trend
            )
    for a, b in tables.model_pairs(runs):
        pair = f"{a.model} vs {b.model}"
        da = distinct[distinct["model"] == a.label].set_index("layer")
        db = distinct[distinct["model"] == b.label].set_index("layer")
        for layer in [x for x in da.index if x in db.index]:
            for measure, finding in (
                ("distinct_concepts", "more distinct concepts"),
                ("distinct_object", "more object concepts"),
            ):
                found[(finding, pair, layer, "")] = _compare(
                    da.loc[layer, measure], db.loc[layer, measure], a.model, b.model
                )
        over = tables.over_represented([a, b])
        if over.empty:
            continue
        layer = ALL_LAYERS if (over["layer"] == ALL_LAYERS).any() else over["layer"].iloc[0]
        ratios = over[over["layer"] == layer].set_index("concept")["log2_ratio"]
        for concept in watched.get((a.model, b.model), []):
            ratio = ratios.get(concept, 0.0)
            value = a.model if ratio > 0 else b.model if ratio < 0 else "neither"
            found[("over-represented in", pair, layer, concept)] = value
    return found


def _watched(runs: Sequence[Descriptions]) -> dict[tuple[str, str], list[str]]:
    """The concepts most over-represented in each model of a pair, in the main replicate
    (the ones the summary and the report name)."""
    out = {}
    for a, b in tables.model_pairs(runs):
        _, in_a, in_b = tables.most_over_represented(
            tables.over_represented([a, b]), a.label, b.label
        )
        out[(a.model, b.model)] = [*in_a["concept"], *in_b["concept"]]
    return out


def headline_findings(groups: Sequence[RunGroup], cmap: CategoryMap) -> pd.DataFrame:
    """The report's headline findings (each model's top concept and top three per layer,
    the trend of distinct concepts over the layers, which model of an ImageNet/Places365
    pair has more distinct and more object concepts per layer, the direction of the
    concepts most over-represented in the main replicate), evaluated in every replicate
    of the models with two runs or more. One row per finding and replicate; ``holds``
    when every replicate gives the same value."""
    columns = ["finding", "model", "layer", "subject", "replicate", "value", "holds"]
    several = [g for g in groups if len(g.runs) > 1]
    reps = replicates(several)
    if len(reps) < 2:
        return pd.DataFrame(columns=columns)
    watched = _watched(reps[0][1])
    values = [(name, _replicate_findings(runs, cmap, watched)) for name, runs in reps]
    rows = []
    for key in values[0][1]:
        found = [v.get(key, "") for _, v in values]
        holds = len(set(found)) == 1
        rows.extend(
            [*key, name, value, holds] for (name, _), value in zip(values, found, strict=True)
        )
    return pd.DataFrame(rows, columns=columns)


def headline_checks(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per finding of a :func:`headline_findings` table: whether it holds in
    every replicate, and the main replicate's value."""
    keys = ["finding", "model", "layer", "subject"]
    return findings.drop_duplicates(keys)[[*keys, "value", "holds"]].reset_index(drop=True)


def rises_with_similarity(by_similarity: pd.DataFrame) -> pd.DataFrame:
    """Per model and layer of :func:`stability_by_similarity`: agreement in the lowest and
    the highest band, and whether it rises from one to the other; ``monotonic`` when it
    never falls from a band to the next."""
    rows = []
    for (model, layer), part in by_similarity.groupby(["model", "layer"], sort=False):
        rates = part.sort_values("band")["same_label_rate"].to_numpy()
        rows.append(
            [
                model,
                layer,
                float(rates[0]),
                float(rates[-1]),
                bool(rates[-1] > rates[0]),
                bool(np.all(np.diff(rates) >= 0)),
            ]
        )
    return pd.DataFrame(
        rows, columns=["model", "layer", "lowest_band", "highest_band", "rises", "monotonic"]
    )


@dataclass(kw_only=True)
class StabilityTables:
    """Every table of the label stability of the models with two runs or more."""

    groups: list[RunGroup]
    agreement: pd.DataFrame
    counts: pd.DataFrame
    ranges: pd.DataFrame
    concepts: pd.DataFrame
    by_similarity: pd.DataFrame
    rises: pd.DataFrame
    findings: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """The tables under their file names."""
        return {
            "run_agreement.csv": self.agreement,
            "run_counts.csv": self.counts,
            "run_count_ranges.csv": self.ranges,
            "concept_stability.csv": self.concepts,
            "stability_by_similarity.csv": self.by_similarity,
            "stability_findings.csv": self.findings,
            "stability_rises.csv": self.rises,
            "headline_checks.csv": headline_checks(self.findings),
        }


def measure_stability(groups: Sequence[RunGroup], cmap: CategoryMap) -> StabilityTables | None:
    """The stability tables, or None when no model has two runs."""
    several = [g for g in groups if len(g.runs) > 1]
    if not several:
        return None
    counts = run_counts(several, cmap)
    by_similarity = stability_by_similarity(several)
    return StabilityTables(
        groups=several,
        agreement=run_agreement(several),
        counts=counts,
        ranges=count_ranges(counts),
        concepts=concept_stability(several),
        by_similarity=by_similarity,
        rises=rises_with_similarity(by_similarity),
        findings=headline_findings(several, cmap),
    )
