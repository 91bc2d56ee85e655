"""``summary.md``: the markdown renderer of an analysis's findings record
(:class:`~explainlab.dissect.findings.DissectFindings`), with the numbers of its tables
listed beside them. Report 1 renders the same record as a PDF."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from explainlab.dissect.categories import CATEGORIES, OTHER
from explainlab.dissect.findings import (
    ConceptStatus,
    DissectFindings,
    Headlines,
    pct,
    run_list,
    span,
)
from explainlab.dissect.stability import FLIPS, StabilityTables
from explainlab.dissect.tables import ALL_LAYERS, Descriptions


@dataclass(kw_only=True)
class SummaryInputs:
    findings: DissectFindings
    inputs: Sequence[Descriptions]
    published: Sequence[Descriptions]
    distinct: pd.DataFrame
    concentration: pd.DataFrame
    similarity: pd.DataFrame
    overlap: pd.DataFrame
    agreement: pd.DataFrame
    fc: pd.DataFrame
    stability: StabilityTables | None = None  # when a model has several runs
    self_agreement: pd.DataFrame = field(default_factory=pd.DataFrame)  # references' own
    montages: list[str] = field(default_factory=list)  # file names
    montage_notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # tables and figures, relative names


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
    if s.findings.caveats:
        lines += ["", *[f"**Note:** {c}" for c in s.findings.caveats]]
    return [*lines, ""]


def _findings(s: SummaryInputs) -> list[str]:
    if not s.findings.headlines:
        return []
    found = [*s.findings.headlines, *s.findings.reliability]
    return ["## Findings", "", *[f"- {f.markdown()}" for f in found], ""]


def _most_frequent(s: SummaryInputs) -> list[str]:
    lines = ["## Concepts learned by most neurons", ""]
    for t in s.findings.top_concepts:
        where = "over all layers" if t.layer == ALL_LAYERS else t.layer
        concept, units = t.concepts[0]
        lines.append(
            f"- {t.model}, {where} ({t.units} units): the most frequent concept is "
            f"'{concept}' ({units} units, {pct(units / t.units)}); the top five: "
            f"{t.said(5)}." + (f" [{t.stability}]" if t.stability else "")
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
                f"({pct(objects / row.distinct_concepts)}) are Broden objects, labelling "
                f"{row.units_object} units ({pct(row.units_object / row.units)}); "
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
    f = s.findings
    return [
        *lines,
        "",
        *[x for x in (f.comparison, f.categories) if x],
        f.category_sources,
        *[x for x in (f.coverage, f.coverage_layers) if x],
        "",
    ]


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
            f"maximum), and the five most frequent concepts label {pct(last.top5_share)} of its units. "
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
                f"{pct(row.units_a_on_shared)} of {a}'s units and {pct(row.units_b_on_shared)} of {b}'s."
            )
    return [*lines, "", s.findings.over_represented, ""]


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
            f"same for {pct(row.same_category_rate)}"
            if row.both_categorised
            else ""
        )
        top5 = (
            f"; the published label is among our 5 best for {pct(row.published_in_our_top5_rate)}"
            if pd.notna(row.published_in_our_top5_rate)
            else ""
        )
        lines.append(
            f"- {row.model} vs {row.published}, {row.layer}: the same concept for {row.same_concept} "
            f"of {row.units} units ({pct(row.same_concept_rate)}){same_cat}{top5}."
        )
    return [*lines, ""]


def _stability(s: SummaryInputs) -> list[str]:
    if s.stability is None:
        return []
    st = s.stability
    lines = [
        "## Label stability across runs",
        "",
        "The runs of each model are compared unit by unit; the first is the one analysed above. "
        + s.findings.stability,
        "",
    ]
    for group in st.groups:
        lines += [f"**{group.model}** ({run_list(group.names)}):", ""]
        agree = st.agreement[st.agreement["model"] == group.model]
        lines.append(
            "- the same label in every run: "
            + "; ".join(
                f"{r.layer} {r.same_label} of {r.units} units ({pct(r.same_label_rate)})"
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
            flips = part[part["status"] == FLIPS].head(3)
            lines.append(
                f"- {layer}: of {len(part)} concepts used in any run, {ConceptStatus.of(part)}"
                + (
                    f"; the most used that {FLIPS}: "
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
                    f"{r.layer} {pct(r.lowest_band)} to {pct(r.highest_band)}"
                    for r in rises.itertuples(index=False)
                )
                + "."
            )
        lines.append("")
    lines += [x for x in (s.findings.rises, s.findings.checks) if x]
    for key in Headlines.of(st.findings).flips:
        where = " ".join(x for x in (key.layer, f"'{key.subject}'" if key.subject else "") if x)
        lines.append(
            f"- {FLIPS}: {key.finding} ({key.model}{', ' + where if where else ''}): "
            f"{key.per_run()}."
        )
    return [*lines, ""]


def _reference(s: SummaryInputs) -> list[str]:
    if s.self_agreement.empty:
        return []
    lines = ["## Our labels against the reference, and the reference against itself", ""]
    for row in s.self_agreement.itertuples(index=False):
        lines.append(
            f"- {row.run_a} and {row.run_b} ({row.model}, {row.layer}): the same label for "
            f"{row.same_label} of {row.units} units ({pct(row.same_label_rate)})."
        )
    for row in s.findings.verdicts:
        lines.append(
            f"- {row.model}, {row.layer}: agrees with the {row.references} reference files on "
            f"{row.ours(pct)} of the units; they agree with each other on "
            f"{pct(row.reference_self)}: {row.sentence}."
        )
    return [*lines, "", s.findings.reference, ""]


def _fc(s: SummaryInputs) -> list[str]:
    if s.fc.empty:
        return []
    lines = ["## fc layer: labelling accuracy against the class names", ""]
    for row in s.fc.itertuples(index=False):
        lines.append(
            f"- {row.model}: {row.correct} of {row.units} output units ({pct(row.accuracy)}) are "
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
        _findings(s),
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
