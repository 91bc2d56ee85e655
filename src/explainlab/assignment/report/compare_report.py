"""Report 4: how far Grad-CAM (and the CAM family) and LIME agree, and which is faithful.

A renderer of the comparison's findings record
(:class:`~explainlab.compare.findings.CompareFindings`, the stage's summary.json), as
summary.txt is another. Page 1: the question, the overview figure and the record's
findings; the appendix: the tables, the other figures, the faithfulness and sanity
details and the per-image panels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from reportlab.lib.units import cm

from explainlab.assignment.report.common import (
    RunFacts,
    image_panels,
    join_names,
    num,
    pretty_key,
    read_csv,
)
from explainlab.compare.complexity import LABELS, p_text
from explainlab.compare.figures import title
from explainlab.compare.findings import (
    CompareFindings,
    FaithfulnessRow,
    mismatch_note,
    verdict_measure,
)
from explainlab.measures import measures, table_columns
from explainlab.report.findings import front_page
from explainlab.report.pdf import PAGE_HEIGHT, TEXT_WIDTH, Report, text
from explainlab.stages import stage_dir

QUESTION = (
    "How far do Grad-CAM and LIME agree on the same images (IoU and other measures), and "
    "do simple images agree more than complex ones?"
)
APPENDIX = "tables, complexity, faithfulness, sanity, each image's masks."
# Page 1 beside the overview figure: the findings first in the record, the answers to the
# sheet's questions (agreement, complexity or its missed target, the sheet's example); the
# findings after them (faithfulness, sanity) open the appendix.
PAGE_ONE_ITEMS = 3
# The assignment compares three CAMs and LIME; a larger set adds the method-by-method
# agreement to the appendix (its report stays as it is).
ASSIGNMENT_METHODS = 4


def build(facts: RunFacts, out: Path) -> Path:
    folder = stage_dir(facts.run_dir, "compare")
    record = CompareFindings.read(folder)
    primary = title(record.primary_method)
    report = facts.new_report(
        f"{primary} and LIME compared", "report 4", facts.banner(record.model or "")
    )
    shown = max(1, PAGE_ONE_ITEMS - len(record.missed))
    later = record.findings[shown:]
    front_page(
        report,
        question=QUESTION,
        setting=setting(facts, record),
        figure=folder / "overview.png",
        caption=CAPTION,
        findings=record.findings[:shown],
        missed=record.missed,
        appendix=("further findings, " if later else "") + APPENDIX,
        figure_height=0.3 * PAGE_HEIGHT,
    )
    report.appendix("Appendix: tables, further analyses, per-image comparisons")
    if later:
        report.heading("Further findings", level=2)
        report.bullets([f.markup() for f in later])
    agreement_tables(report, record, pd.read_csv(folder / "agreement.csv"))
    complexity_section(report, record, folder)
    faithfulness_section(report, folder)
    sanity_section(report, record, folder)
    pairs_section(report, record, folder)
    panels(report, record, folder)
    return report.save(out)


CAPTION = (  # one line: the figure's legend and axes say the rest
    "Left: IoU per image against chance and the CAM grid's ceiling. Right: complexity against "
    "IoU (grey: not significant)."
)


def setting(facts: RunFacts, record: CompareFindings) -> str:
    """What was done, in one paragraph, with the one stand-in sentence where it applies."""
    model = record.model or ""
    stand_in = facts.stand_in_sentence(model)
    who = "the model" if stand_in else text(facts.model_description(model))
    methods = join_names([title(m) for m in record.cam_methods])
    parts = [
        f"On {record.images} images, each CAM map of {who} ({methods}) is compared with "
        "LIME's mask of positive superpixels by the <i>area-matched</i> IoU (the CAM's top "
        "pixels covering the mask's area: no threshold), by deletion and insertion curves and "
        "by randomising the model's weights."
    ]
    return " ".join(parts + ([stand_in] if stand_in else []))


KEY_WIDTH = 4.2 * cm  # the image's name in the table per image


def column_widths(measures_cm: list[float]) -> list[float]:
    """The table per image's column widths: the image's name, then each measure's width,
    all narrowed alike where they would not fit the text width."""
    widths = [KEY_WIDTH, *(w * cm for w in measures_cm)]
    scale = min(1.0, TEXT_WIDTH / sum(widths))
    return [w * scale for w in widths]


def agreement_tables(report: Report, record: CompareFindings, agreement: pd.DataFrame) -> None:
    means, primary = record.agreement_mean, record.primary_method
    report.paragraph(
        f"IoU is taken two ways: with the CAM binarised at {record.threshold:g} of its "
        "maximum, and area-matched. "
        "Pointing: the share of images whose CAM peak lies inside LIME's mask. ρ superpixels: "
        "the rank correlation between the CAM averaged per superpixel and LIME's weights "
        "(no mask, no threshold)."
    )
    mean_columns = table_columns("map-mask")
    report.table(
        [
            [title(m)] + [num(means[m].get(c.name)) for c in mean_columns]
            for m in record.cam_methods
        ],
        header=["CAM method", *(c.heading(record.threshold) for c in mean_columns)],
        caption="Agreement with LIME, mean over the images (compare/summary.json).",
    )
    per_image = agreement[agreement["method"] == primary].pivot_table(
        index="key", columns="measure", values="value"
    )
    columns = table_columns("map-mask", "image")
    report.table(
        [
            [pretty_key(k)] + [num(r.get(c.name), c.image_format) for c in columns]
            for k, r in per_image.reindex(list(record.keys)).iterrows()
        ],
        header=["image", *(c.heading(record.threshold) for c in columns)],
        col_widths=column_widths([c.width_cm for c in columns]),
        caption=f"{title(primary)} vs LIME per image (compare/agreement.csv).",
    )
    if record.label_mismatches:
        report.paragraph(mismatch_note(record.label_mismatches))


def complexity_section(report: Report, record: CompareFindings, folder: Path) -> None:
    report.heading("Do simple images agree more?")
    c = record.complexity
    report.paragraph(text(c.paragraph))
    rows = [
        [LABELS.get(m, m), num(v.rho), "n/a" if v.p is None else p_text(v.p), str(v.n)]
        for m, v in c.correlations.items()
    ]
    report.table(
        rows,
        header=["complexity measure", "Spearman ρ with IoU", "p", "images"],
        caption=f"Complexity against {text(c.iou)} (compare/correlations.csv).",
    )
    for name, caption in (
        ("complexity_scatter.png", "Each complexity measure against IoU, with the image names."),
        ("iou_bars.png", "IoU per image, sorted, with the chance level, every CAM method."),
        ("iou_sweep.png", "IoU as a function of the CAM threshold, one curve per image."),
    ):
        if (folder / name).is_file():
            report.figure(folder / name, caption=caption, max_height=0.6 * PAGE_HEIGHT)


def faithfulness_section(report: Report, folder: Path) -> None:
    table = read_csv(folder / "faithfulness_summary.csv")
    if table is None:
        return
    report.heading("Faithfulness: deletion and insertion")
    report.paragraph(
        "Pixels are removed (deletion) or revealed (insertion) in the order of each map's "
        "saliency and the probability of the explained class is recorded; a faithful map makes "
        "it fall fast (low deletion AUC) and rise fast (high insertion AUC). LIME ranks pixels "
        "by their superpixel's weight; a random order of patches is the baseline."
    )
    specs = measures("map")
    beats = [s for s in specs if s.direction != "neither"]
    report.table(
        [
            [title(row.method)]
            + [num(row.means[s.name], ".3f") for s in specs]
            + [_count(row.beats_random[s.name], row.images) for s in beats]
            for row in FaithfulnessRow.rows(table.to_dict(orient="records"))
        ],
        header=[
            "method",
            *(f"{s.label} {s.arrow}".rstrip() for s in specs),
            *(f"{s.short} beats random" for s in beats),
        ],
        caption="Mean AUC over the images (compare/faithfulness_summary.csv).",
    )
    if (folder / "faithfulness_curves.png").is_file():
        report.figure(
            folder / "faithfulness_curves.png",
            caption="Deletion and insertion curves, mean over the images.",
            max_height=9 * cm,
        )


def _count(value: int | None, images: int) -> str:
    return "" if value is None else f"{value} of {images}"


def sanity_section(report: Report, record: CompareFindings, folder: Path) -> None:
    s = record.sanity
    if s is None:
        return
    specs = measures("sanity")
    names = [spec.title for spec in specs]
    report.heading("Sanity check: model parameter randomisation")
    rule = s.rule(verdict_measure().label)
    report.paragraph(
        f"The model's blocks are re-initialised from the top down ({len(s.blocks)} block(s): "
        f"{text(join_names(list(s.blocks)))}; on {s.images} image(s)) and each method's map is "
        f"compared with its map for the trained model ({text(join_names(names))}). A map that barely "
        "changes explains the image, not the model. After the whole cascade: "
        + "; ".join(
            f"{title(f.method)} "
            + ", ".join(f"{spec.label} {num(f.values.get(spec.name))}" for spec in specs)
            + f" ({text(f.verdict)})"
            for f in s.final
        )
        + (f" ({rule})" if rule else "")
        + "."
    )
    if (folder / "sanity.png").is_file():
        report.figure(
            folder / "sanity.png",
            caption="Similarity to the original map as more blocks are randomised.",
            max_height=8 * cm,
        )


def pairs_section(report: Report, record: CompareFindings, folder: Path) -> None:
    """Every two methods' agreement, where more than the assignment's methods were compared."""
    if record.pairs is None or len(record.pairs.methods) <= ASSIGNMENT_METHODS:
        return
    report.heading("Agreement between every two methods")
    report.paragraph(
        "Each method's map is compared with every other's on the same image (LIME's by its "
        "superpixel weights): by the rank correlation of their pixels, and by the IoU of their "
        "top pixels covering the same share of the crop. " + record.pairs.sentence()
    )
    if (folder / "pair_matrix.png").is_file():
        report.figure(
            folder / "pair_matrix.png",
            caption="Mean agreement of every two methods over the images (compare/pair_means.csv).",
            max_height=0.6 * PAGE_HEIGHT,
        )


def panels(report: Report, record: CompareFindings, folder: Path) -> None:
    report.heading("Per-image comparisons")
    report.paragraph(
        f"For each image: the CAM, its ≥ {record.threshold:g} region, LIME's mask, and their intersection and "
        f"differences, for {join_names([title(m) for m in record.cam_methods])}."
    )
    image_panels(report, folder, list(record.keys), width=0.8 * TEXT_WIDTH, max_height=12 * cm)
