"""Report 1: network dissection (CLIP-Dissect) of an ImageNet and a Places365 model.

The PDF renderer of the analysis's findings record (``dissect/analysis/findings.json``,
:class:`~explainlab.dissect.findings.DissectFindings`), as ``summary.md`` is its markdown
renderer: every sentence about the labels comes from the record; this module adds the
assignment's question and the layout (page 1, the appendix's tables and figures)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from reportlab.lib.units import cm

from explainlab.assignment.report.common import RunFacts, join_names
from explainlab.dissect.figures import GROUP_NAMES, model_name
from explainlab.dissect.findings import ConceptStatus, DissectFindings, pct, with_range
from explainlab.dissect.progression import STACKED
from explainlab.dissect.statements import analysed_agreement, counted
from explainlab.dissect.tables import ALL_LAYERS
from explainlab.report.findings import front_page
from explainlab.report.pdf import Report, text
from explainlab.stages import stage_dir

ASSIGNMENT_LAYERS = ("layer2", "layer3", "layer4")
BANNERS = {
    "published": "PUBLISHED CLIP-Dissect RESULTS ANALYSED — labels not computed in this run",
    "reference_runs": "REFERENCE CLIP-Dissect RUNS ANALYSED — labels not computed in this run",
}
QUESTION = (
    "Label every neuron of layer2, layer3 and layer4 of ResNet18-ImageNet and "
    "ResNet18-Places365 with a concept (CLIP-Dissect). Which concepts dominate each layer, "
    "how do the two models differ, and how many distinct objects has each learned?"
)
CAPTION = (
    "Left: units by the WordNet category of their label (run a); right: the concepts "
    "labelling most units (range over the runs). "
)


def _table(folder: Path, name: str) -> pd.DataFrame | None:
    """A table of the analysis, None when it was not written or has no rows."""
    path = folder / name
    if not path.is_file() or not path.stat().st_size:
        return None
    # concepts are words ("none", "nan" ...), and a finding may have no layer
    frame = pd.read_csv(path, keep_default_na=False)
    return frame if len(frame) else None


def build(facts: RunFacts, out: Path) -> Path:
    folder = stage_dir(facts.run_dir, "dissect") / "analysis"
    record = DissectFindings.read(folder)
    distinct = pd.read_csv(folder / "distinct_concepts.csv")
    models = list(record.models)
    layers = [layer for layer in ASSIGNMENT_LAYERS if layer in set(distinct["layer"])] or sorted(
        set(distinct["layer"]) - {ALL_LAYERS}
    )
    report = facts.new_report(
        "Network dissection with CLIP-Dissect", "report 1", BANNERS.get(record.kind, "")
    )
    front_page(
        report,
        question=QUESTION,
        setting=_setting(facts, record, models, layers),
        figure=folder / "category_shares.png",
        caption=CAPTION + text(record.coverage),
        findings=list(record.headlines),
        appendix="label stability, top five concepts per layer; files: dissect/analysis/.",
        figure_height=5.0 * cm,
    )
    report.appendix("Appendix: tables, label stability, figures")
    report.heading("Concepts learned by most neurons")
    report.bullets([_top_concepts(record, model, layers) for model in models])
    _shares_table(report, folder, record)
    _distinct_section(report, record, folder, distinct, layers)
    if record.overlap or record.over_represented:
        report.heading("ImageNet vs Places365")
        report.paragraph(text(" ".join(x for x in (record.overlap, record.over_represented) if x)))
    if record.stability:
        _stability_section(report, record, folder)
    if record.verdicts:
        _reference_section(report, record)
    _figures(report, folder)
    return report.save(out)


def _setting(facts: RunFacts, record: DissectFindings, models: list[str], layers: list[str]) -> str:
    """What was done: the method in one sentence, and whose labels these are (the one
    statement that this run did not compute them, beside the banner)."""
    configured = facts.manifest.get("config", {}).get("dissect", {})
    method = (
        "<b>What was done.</b> CLIP-Dissect names each unit by the concept whose CLIP text "
        "embedding best matches its top-activating probe images; WordNet 3.0 gives each "
        "name a category. "
    )
    if record.kind in ("reference_runs", "published"):
        return method + " ".join(text(c) for c in record.caveats)
    return method + (
        f"Here every unit of {join_names(layers)} of {join_names([text(m) for m in models])} "
        f"was labelled (similarity {text(configured.get('similarity', 'soft_wpmi'))}, concept "
        f"set {text(configured.get('concept_set', '20k'))}, probe set "
        f"{text(', '.join(configured.get('probe', ['broden'])))})."
    )


def _top_concepts(record: DissectFindings, model: str, layers: list[str]) -> str:
    said = []
    for layer in layers:
        top = record.top(model, layer)
        if top is not None:
            note = f" [{top.stability}]" if top.stability else ""
            said.append(f"{layer}: {text(top.said(5) + note)}")
    return f"<b>{text(model)}</b> ({model_name(model)}): {'; '.join(said)}."


def _shares_table(report: Report, folder: Path, record: DissectFindings) -> None:
    shares = _table(folder, "category_shares.csv")
    if shares is None:
        return
    report.heading("Units per WordNet category")
    rows = []
    for (model, layer), part in shares.groupby(["model", "layer"], sort=False):
        cells = [str(int(part["units"].iloc[0]))]
        for group in STACKED:
            values = part[part["group"] == group]["units_group"]
            main = int(values[part["main"].astype(str) == "True"].iloc[0])
            cells.append(with_range(main, int(values.min()), int(values.max())))
        rows.append([model_name(model), layer, *cells])
    report.table(
        rows,
        header=["model", "layer", "units", *(GROUP_NAMES[g] for g in STACKED)],
        col_widths=[w * cm for w in (2.0, 1.3, 1.1, 2.8, 2.5, 2.5, 2.4, 2.2)],
        caption="Units labelled with a concept of each group of WordNet categories, run a; "
        "the range over the runs in brackets (category_shares.csv; each concept's WordNet "
        "lexname and category: concept_categories.csv).",
    )
    report.paragraph(text(record.coverage_layers))


def _distinct_section(
    report: Report,
    record: DissectFindings,
    folder: Path,
    distinct: pd.DataFrame,
    layers: list[str],
) -> None:
    report.heading("How many different concepts, and how many objects")
    ranges = _table(folder, "run_count_ranges.csv")
    rows = []
    for label, model in record.models.items():
        for layer in [*layers, ALL_LAYERS]:
            r = distinct[(distinct["model"] == label) & (distinct["layer"] == layer)]
            if len(r):
                r = r.iloc[0]
                rows.append(
                    [
                        label,
                        layer,
                        str(int(r["units"])),
                        *(
                            counted(ranges, model, layer, m, int(r[m]))[0]
                            for m in ("distinct_concepts", "distinct_object", "units_object")
                        ),
                        str(int(r["distinct_scene"])),
                        str(int(r["distinct_other"])),
                    ]
                )
    report.table(
        rows,
        header=[
            "model",
            "layer",
            "units",
            "distinct concepts",
            "objects",
            "units on objects",
            "scenes",
            "other",
        ],
        col_widths=[w * cm for w in (3.9, 1.6, 1.2, 2.7, 2.1, 2.4, 1.3, 1.3)],
        caption="Ranges over the runs of each model in brackets." if ranges is not None else "",
    )
    if record.comparison:
        report.paragraph(text(record.comparison))
    report.paragraph(f"<i>{text(record.categories)}</i>")


APPENDIX_FIGURES = (
    ("distinct_concepts.png", "Distinct concepts per layer, split by Broden category."),
    ("model_overlap.png", "Shared and model-specific concepts per layer."),
    (
        "label_stability.png",
        "Label stability: units labelled alike by every run of a model, overall and by "
        "quartile of the similarity score.",
    ),
    (
        "published_agreement.png",
        "Agreement of the labels analysed with each reference file of the same model.",
    ),
)


def _figures(report: Report, folder: Path) -> None:
    report.heading("Figures")
    for name, caption in APPENDIX_FIGURES:
        if (folder / name).is_file():
            report.figure(folder / name, caption=caption)  # at the size drawn: fonts as drawn
    for path in sorted(folder.glob("top_concepts_*.png")):
        report.figure(path, caption="Concepts learned by most neurons, per layer.")
    montages = sorted(folder.glob("montage*.png")) + sorted(folder.glob("montages/*.png"))
    for path in montages:
        report.figure(
            path,
            caption="Top-activating probe images of units labelled with frequent concepts "
            f"({text(path.stem)}).",
            max_height=10 * cm,
        )
    if not montages:
        report.paragraph(
            "<i>Neuron montages:</i> not made, because the labels analysed come without the "
            "probe images each unit activated on most (top_images.csv, probe_images.csv)."
        )


def _stability_section(report: Report, record: DissectFindings, folder: Path) -> None:
    report.heading("Label stability: the same model, another run")
    report.bullets([f.markup() for f in record.reliability])
    agreement = _table(folder, "run_agreement.csv")
    concepts = _table(folder, "concept_stability.csv")
    rises = _table(folder, "stability_rises.csv")
    rows = []
    for model in dict.fromkeys(record.models.values()):
        mine = concepts[concepts["model"] == model]
        for r in analysed_agreement(agreement, model).itertuples(index=False):
            band = (
                rises[(rises["model"] == model) & (rises["layer"] == r.layer)]
                if rises is not None
                else ()
            )
            status = ConceptStatus.of(mine[mine["layer"] == r.layer])
            rows.append(
                [
                    model,
                    r.layer,
                    f"{r.same_label} of {r.units} ({pct(r.same_label_rate)})",
                    ""
                    if r.layer == ALL_LAYERS
                    else f"{status.stable} / {status.partly} / {status.flips}",
                    f"{pct(band['lowest_band'].iloc[0])} → {pct(band['highest_band'].iloc[0])}"
                    if len(band)
                    else "n/a",
                ]
            )
    report.paragraph(text(record.stability))
    report.table(
        rows,
        header=[
            "model",
            "layer",
            "same label",
            "concepts stable / partly / flip",
            "lowest → highest similarity quartile",
        ],
        col_widths=[w * cm for w in (4.0, 2.0, 3.4, 3.8, 4.2)],
        caption="Agreement by similarity: the share of units labelled alike among the quarter "
        "of the layer's units with the lowest similarity score of the analysed run, and among "
        "the quarter with the highest.",
    )
    report.paragraph(text(" ".join(x for x in (record.rises, record.checks) if x)))


def _reference_section(report: Report, record: DissectFindings) -> None:
    report.heading("These labels against the reference runs")
    report.paragraph(text(record.reference))
    report.table(
        [[r.model, r.layer, r.ours(pct), pct(r.reference_self), r.word] for r in record.verdicts],
        header=[
            "model",
            "layer",
            "same label as each reference",
            "references with each other",
            "verdict",
        ],
        col_widths=[w * cm for w in (4.6, 2.0, 4.0, 3.8, 2.6)],
    )
