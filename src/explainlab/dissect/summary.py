"""``summary.md``: the findings of the analysis in sentences generated from its tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from explainlab.dissect.categories import (
    CATEGORIES,
    OTHER,
    SOURCE_NOT_BRODEN,
    SOURCE_UNKNOWN,
    CategoryMap,
)
from explainlab.dissect.findings import ConceptStatus, Headlines, ReferenceVerdict, run_list, span
from explainlab.dissect.stability import FLIPS, StabilityTables
from explainlab.dissect.tables import ALL_LAYERS, Descriptions, most_over_represented


@dataclass(kw_only=True)
class SummaryInputs:
    inputs: Sequence[Descriptions]
    published: Sequence[Descriptions]
    cmap: CategoryMap
    counts: pd.DataFrame
    distinct: pd.DataFrame
    categories: pd.DataFrame
    concentration: pd.DataFrame
    similarity: pd.DataFrame
    overlap: pd.DataFrame
    over: pd.DataFrame
    agreement: pd.DataFrame
    fc: pd.DataFrame
    stability: StabilityTables | None = None  # when a model has several runs
    self_agreement: pd.DataFrame = field(default_factory=pd.DataFrame)  # references' own
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)  # ours vs references
    montages: list[str] = field(default_factory=list)  # file names
    montage_notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # tables and figures, relative names
    caveats: list[str] = field(default_factory=list)  # e.g. the offline fallback


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


def _quote(items: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"'{c}' ({n})" for c, n in items)


def _trend(values: Sequence[float], layers: Sequence[str], what: str, fmt=str) -> str:
    if len(values) < 2:
        return ""
    first, last = values[0], values[-1]
    verb = "rises" if last > first else "falls" if last < first else "stays"
    return f"{what} {verb} from {fmt(first)} in {layers[0]} to {fmt(last)} in {layers[-1]}."


ROLES = {
    "published": "published CLIP-Dissect results",
    "reference": "a run of the reference CLIP-Dissect code on the assignment's configuration",
    "ours": "dissected here",
}


def _inputs(s: SummaryInputs) -> list[str]:
    lines = ["## Inputs", ""]
    further = [d for g in s.stability.groups for d in g.runs[1:]] if s.stability else []
    for d in [*s.inputs, *further, *s.published]:
        role = ROLES[d.source]
        layers = ", ".join(d.layers)
        extra = (
            " (reference for agreement only)"
            if d in s.published
            else " (a further run, for the label stability only)"
            if d in further
            else ""
        )
        lines.append(
            f"- **{d.label}**: {role}{extra}, `{d.path}`; {len(d.table)} units in "
            f"{len(d.layers)} layers ({layers}); model `{d.model}`, classes: {d.dataset}."
        )
        lines.extend(f"  - note: {n}" for n in d.notes)
    if s.caveats:
        lines += ["", *[f"**Note:** {c}" for c in s.caveats]]
    return [*lines, ""]


def _most_frequent(s: SummaryInputs) -> list[str]:
    lines = ["## Concepts learned by most neurons", ""]
    for d in s.inputs:
        mine = s.counts[s.counts["model"] == d.label]
        for layer in [*d.layers, *([ALL_LAYERS] if len(d.layers) > 1 else [])]:
            part = mine[mine["layer"] == layer].head(5)
            total = int(mine[mine["layer"] == layer]["units"].sum())
            top = part.iloc[0]
            where = "over all layers" if layer == ALL_LAYERS else f"{layer}"
            lines.append(
                f"- {d.label}, {where} ({total} units): the most frequent concept is "
                f"'{top.concept}' ({top.units} units, {_pct(top.share)}); the top five: "
                f"{_quote(list(zip(part.concept, part.units, strict=True)))}."
            )
    return [*lines, ""]


def _distinct(s: SummaryInputs) -> list[str]:
    lines = ["## Distinct concepts, and how many are objects", ""]
    for d in s.inputs:
        part = s.distinct[s.distinct["model"] == d.label]
        for row in part.itertuples(index=False):
            where = "over all layers" if row.layer == ALL_LAYERS else f"in {row.layer}"
            objects = row.distinct_object
            lines.append(
                f"- {d.label} {where}: {row.distinct_concepts} distinct concepts for {row.units} "
                f"units ({row.distinct_concepts / row.units:.2f} per unit); {objects} of them "
                f"({_pct(objects / row.distinct_concepts)}) are Broden objects, labelling "
                f"{row.units_object} units ({_pct(row.units_object / row.units)}); "
                + "; ".join(
                    f"{c} {getattr(row, f'distinct_{c}')}"
                    for c in (*CATEGORIES, OTHER)
                    if c != "object"
                )
                + "."
            )
        per_layer = part[part["layer"] != ALL_LAYERS]
        trend = _trend(
            list(per_layer.distinct_concepts),
            list(per_layer.layer),
            "The number of distinct concepts",
        )
        if trend:
            lines.append(f"  {trend}")
    used = s.categories
    named = used[used["source"] != SOURCE_NOT_BRODEN]
    unknown = used[used["source"] == SOURCE_UNKNOWN]
    sources = sorted(set(named["source"]) - {SOURCE_UNKNOWN})
    lines += [
        "",
        f"Categories: of the {len(used)} distinct concepts in these files, {len(named)} are "
        f"Broden labels or ImageNet class names and {len(used) - len(named)} are neither (those "
        "count as 'other'). "
        f"Categories were taken from: {'; '.join(sources) or 'no source'}. "
        f"{len(unknown)} Broden labels used here had no category in the files available offline "
        "and also count as 'other'.",
        "Sources checked: " + "; ".join(s.cmap.notes) + ".",
        "",
    ]
    return lines


def _concentration(s: SummaryInputs) -> list[str]:
    lines = ["## How concentrated the labels are", ""]
    for d in s.inputs:
        part = s.concentration[
            (s.concentration["model"] == d.label) & (s.concentration["layer"] != ALL_LAYERS)
        ]
        if part.empty:
            continue
        last = part.iloc[-1]
        lines.append(
            f"- {d.label}: in {last.layer} the labels carry {last.entropy_bits:.1f} bits "
            f"(an effective {last.effective_concepts:.0f} concepts; {last.normalized_entropy:.2f} of the "
            f"maximum), and the five most frequent concepts label {_pct(last.top5_share)} of its units. "
            + _trend(
                list(part.normalized_entropy),
                list(part.layer),
                "The normalised entropy",
                lambda v: f"{v:.2f}",
            )
        )
    return [*lines, ""]


def _similarity(s: SummaryInputs) -> list[str]:
    if s.similarity.empty:
        return []
    lines = ["## Similarity scores", ""]
    for model, part in s.similarity.groupby("model", sort=False):
        part = part[part["layer"] != ALL_LAYERS]
        medians = ", ".join(f"{r.layer} {r.median:.3g}" for r in part.itertuples(index=False))
        lines.append(f"- {model}: median similarity of the labels per layer: {medians}.")
    lines += [
        "",
        "The scores are on the scale of the similarity function used; compare them "
        "within one function only.",
        "",
    ]
    return lines


def _comparison(s: SummaryInputs) -> list[str]:
    lines = ["## ImageNet and Places365 models compared", ""]
    if s.overlap.empty:
        names = ", ".join(d.label for d in s.inputs)
        return [*lines, f"Only one model was given ({names}): nothing to compare.", ""]
    for (a, b), part in s.overlap.groupby(["model_a", "model_b"], sort=False):
        lines.append(f"**{a}** against **{b}**:")
        for row in part.itertuples(index=False):
            where = "over all layers" if row.layer == ALL_LAYERS else f"in {row.layer}"
            lines.append(
                f"- {where}: {row.shared} shared concepts (Jaccard {row.jaccard:.2f}), "
                f"{row.only_a} only in {a}, {row.only_b} only in {b}; the shared concepts label "
                f"{_pct(row.units_a_on_shared)} of {a}'s units and {_pct(row.units_b_on_shared)} of {b}'s."
            )
        layer, top_a, top_b = most_over_represented(s.over, a, b)
        lines.append(
            f"- most over-represented in {a} ({layer}; units in {a} vs {b}): "
            + ", ".join(
                f"'{r.concept}' ({r.units_a} vs {r.units_b})" for r in top_a.itertuples(index=False)
            )
            + "."
        )
        lines.append(
            f"- most over-represented in {b}: "
            + ", ".join(
                f"'{r.concept}' ({r.units_b} vs {r.units_a})" for r in top_b.itertuples(index=False)
            )
            + "."
        )
    return [*lines, ""]


def _agreement(s: SummaryInputs) -> list[str]:
    lines = ["## Agreement with published or reference labels", ""]
    if s.agreement.empty:
        reason = (
            "no published file of the same model was given (--published)"
            if not s.published
            else "no layer of the same model is in both files"
        )
        return [*lines, f"Not measured: {reason}.", ""]
    for row in s.agreement.itertuples(index=False):
        same_cat = (
            f"; where both labels have a Broden category ({row.both_categorised} units) it is the "
            f"same for {_pct(row.same_category_rate)}"
            if row.both_categorised
            else ""
        )
        top5 = (
            f"; the published label is among our 5 best for {_pct(row.published_in_our_top5_rate)}"
            if pd.notna(row.published_in_our_top5_rate)
            else ""
        )
        lines.append(
            f"- {row.model} vs {row.published}, {row.layer}: the same concept for {row.same_concept} "
            f"of {row.units} units ({_pct(row.same_concept_rate)}){same_cat}{top5}."
        )
    return [*lines, ""]


def _stability(s: SummaryInputs) -> list[str]:
    if s.stability is None:
        return []
    st = s.stability
    lines = [
        "## Label stability across runs",
        "",
        "The runs of each model are compared unit by unit; the first is the one analysed above.",
        "",
    ]
    for group in st.groups:
        runs = run_list(group.names)
        lines += [f"**{group.model}** ({runs}):", ""]
        agree = st.agreement[st.agreement["model"] == group.model]
        lines.append(
            "- the same label in every run: "
            + "; ".join(
                f"{r.layer} {r.same_label} of {r.units} units ({_pct(r.same_label_rate)})"
                for r in agree.itertuples(index=False)
                if len(group.runs) == 2 or r.run_a == "all"
            )
            + "."
        )
        counts = st.counts[st.counts["model"] == group.model]
        ranges = st.ranges[st.ranges["model"] == group.model].set_index(["layer", "measure"])
        per_layer = []
        for layer, part in counts.groupby("layer", sort=False):
            values = ", ".join(
                f"{v} (run {n})" for n, v in zip(part.run, part.distinct_concepts, strict=True)
            )
            spread = ranges.loc[(layer, "distinct_concepts"), "spread"]
            objects = ranges.loc[(layer, "distinct_object")]
            per_layer.append(
                f"{layer} {values}, spread {spread}; objects {span(objects['min'], objects['max'])}"
            )
        lines.append("- distinct concepts per run: " + "; ".join(per_layer) + ".")
        concepts = st.concepts[st.concepts["model"] == group.model]
        for layer, part in concepts.groupby("layer", sort=False):
            status = ConceptStatus.of(part)
            flips = part[part["status"] == FLIPS].head(3)
            lines.append(
                f"- {layer}: of {len(part)} concepts used in any run, {status.stable} are "
                f"stable (the same units in every run), {status.partly} partly stable "
                f"and {status.flips} flip (no unit keeps them in every run)"
                + (
                    "; the most used that flip: "
                    + ", ".join(
                        f"'{r.concept}' ({r.units_main} units in the main run, {r.units_any} in "
                        "any, none in every run)"
                        for r in flips.itertuples(index=False)
                    )
                    if len(flips)
                    else ""
                )
                + "."
            )
        rises = st.rises[st.rises["model"] == group.model]
        if len(rises):
            lines.append(
                "- by similarity (quartiles of the main run's score per layer, lowest to highest): "
                + "; ".join(
                    f"{r.layer} {_pct(r.lowest_band)} to {_pct(r.highest_band)}"
                    + ("" if r.rises else " (does not rise)")
                    for r in rises.itertuples(index=False)
                )
                + f". Agreement rises with the similarity in {int(rises['rises'].sum())} of "
                f"{len(rises)} rows ({int(rises['monotonic'].sum())} without a dip)."
            )
        lines.append("")
    headlines = Headlines.of(st.findings)
    if headlines.checks:
        lines += [
            "",
            f"Headline findings that hold in every replicate: {headlines.held} of "
            f"{len(headlines.checks)}.",
        ]
        for key in headlines.flips:
            where = " ".join(x for x in (key.layer, f"'{key.subject}'" if key.subject else "") if x)
            lines.append(
                f"- flips: {key.finding} ({key.model}{', ' + where if where else ''}): "
                f"{key.per_run()}."
            )
    else:
        lines += ["", "Headline findings: not checked (they need two runs of every model)."]
    return [*lines, ""]


def _reference(s: SummaryInputs) -> list[str]:
    if s.self_agreement.empty:
        return []
    lines = ["## Our labels against the reference, and the reference against itself", ""]
    for row in s.self_agreement.itertuples(index=False):
        lines.append(
            f"- {row.run_a} and {row.run_b} ({row.model}, {row.layer}): the same label for "
            f"{row.same_label} of {row.units} units ({_pct(row.same_label_rate)})."
        )
    for row in ReferenceVerdict.rows(s.verdicts):
        lines.append(
            f"- {row.model}, {row.layer}: agrees with the {row.references} reference files on "
            f"{row.ours(_pct)} of the units; they agree with each other on "
            f"{_pct(row.reference_self)}: {row.sentence}."
        )
    if s.verdicts.empty:
        lines.append("- no analysed model has two reference files of its own: no verdict.")
    return [*lines, ""]


def _fc(s: SummaryInputs) -> list[str]:
    if s.fc.empty:
        return []
    lines = ["## fc layer: labelling accuracy against the class names", ""]
    for row in s.fc.itertuples(index=False):
        lines.append(
            f"- {row.model}: {row.correct} of {row.units} output units ({_pct(row.accuracy)}) are "
            f"labelled with their own {row.class_names} class name (the paper's validity check; "
            "meaningful with a concept set that contains the class names)."
        )
    return [*lines, ""]


def _montages(s: SummaryInputs) -> list[str]:
    lines = ["## Montages", ""]
    if s.montages:
        lines += [f"- `{m}`" for m in s.montages]
    lines += [f"- {n}" for n in s.montage_notes]
    return [*lines, ""]


def write_summary(s: SummaryInputs, title: str) -> str:
    sections = [
        [f"# {title}", ""],
        _inputs(s),
        _most_frequent(s),
        _distinct(s),
        _concentration(s),
        _similarity(s),
        _comparison(s),
        _agreement(s),
        _reference(s),
        _stability(s),
        _fc(s),
        _montages(s),
        ["## Files", "", *[f"- `{f}`" for f in s.files], ""],
    ]
    return "\n".join(line for section in sections for line in section)
