"""Report 4: how far Grad-CAM (and the CAM family) and LIME agree, and which is faithful.

Page 1: the question, the overview figure and the findings of
:mod:`explainlab.report.compare_findings`; the appendix: the tables, the other figures,
the faithfulness and sanity details and the per-image panels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from reportlab.lib.units import cm

from explainlab import runfolder
from explainlab.compare.complexity import LABELS, p_text
from explainlab.compare.figures import title
from explainlab.report import compare_findings
from explainlab.report.common import RunFacts, image_panels, join_names, num, pretty_key, read_csv
from explainlab.report.findings import front_page
from explainlab.report.pdf import PAGE_HEIGHT, TEXT_WIDTH, Report, text
from explainlab.stages import stage_dir

QUESTION = (
    "How far do Grad-CAM and LIME agree on the same images (IoU and other measures), and "
    "do simple images agree more than complex ones?"
)
APPENDIX = "tables per image, complexity, faithfulness and sanity details, each image's masks."


def build(facts: RunFacts, out: Path) -> Path:
    folder = stage_dir(facts.run_dir, "compare")
    numbers = json.loads((folder / "summary.json").read_text())
    model = numbers["model"]
    primary = title(numbers["primary_method"])
    report = facts.new_report(f"{primary} and LIME compared", "report 4", facts.banner(model))
    front_page(
        report,
        question=QUESTION,
        setting=setting(facts, numbers),
        figure=folder / "overview.png",
        caption=CAPTION,
        findings=compare_findings.choose(numbers, crop(facts.run_dir)),
        missed=compare_findings.missed(numbers),
        appendix=APPENDIX,
        figure_height=0.3 * PAGE_HEIGHT,
    )
    report.appendix("Appendix: tables, further analyses, per-image comparisons")
    agreement_tables(report, numbers, pd.read_csv(folder / "agreement.csv"))
    complexity_section(report, numbers, folder)
    faithfulness_section(report, numbers, folder)
    sanity_section(report, numbers, folder)
    panels(report, numbers, folder)
    return report.save(out)


CAPTION = (
    "Left: IoU per image against chance and the ceiling the CAM grid allows. Right: each "
    "complexity measure's rho with IoU (right: simpler agrees more; grey: not significant)."
)


def crop(run_dir: Path) -> int | None:
    """The crop the maps lie on, as the CAM stage recorded it."""
    try:
        recorded = runfolder.recorded_settings(stage_dir(run_dir, "cam"))
        return int(recorded["geometry"]["crop"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def setting(facts: RunFacts, numbers: dict[str, Any]) -> str:
    """What was done, in one paragraph, with the one stand-in sentence where it applies."""
    model = numbers["model"]
    stand_in = facts.stand_in_sentence(model)
    who = "the model" if stand_in else text(facts.model_description(model))
    methods = join_names([title(m) for m in numbers["cam_methods"]])
    parts = [
        f"On {numbers['images']} images, each CAM map of {who} ({methods}) is compared with "
        "LIME's mask of positive superpixels on the same crop, by the <i>area-matched</i> IoU "
        "(the CAM's top pixels covering the mask's area: no threshold to choose), by deletion "
        "and insertion curves, and by randomising the model's weights."
    ]
    return " ".join(parts + ([stand_in] if stand_in else []))


MEAN_COLUMNS = (
    ("iou_threshold", "IoU (≥ 0.5)"),
    ("iou_area", "IoU (area)"),
    ("iou_area_chance", "chance IoU"),
    ("dice_area", "Dice (area)"),
    ("pointing_game", "pointing"),
    ("superpixel_rho", "ρ superpixels"),
)


def agreement_tables(report: Report, numbers: dict[str, Any], agreement: pd.DataFrame) -> None:
    means, primary = numbers["agreement_mean"], numbers["primary_method"]
    report.paragraph(
        "IoU is taken two ways: with the CAM binarised at half its maximum, and area-matched. "
        "Pointing: the share of images whose CAM peak lies inside LIME's mask. ρ superpixels: "
        "the rank correlation between the CAM averaged per superpixel and LIME's weights "
        "(no mask, no threshold)."
    )
    report.table(
        [[title(m)] + [num(means[m][c]) for c, _ in MEAN_COLUMNS] for m in numbers["cam_methods"]],
        header=["CAM method", *(h for _, h in MEAN_COLUMNS)],
        caption="Agreement with LIME, mean over the images (compare/summary.json).",
    )
    per_image = agreement[agreement["method"] == primary].pivot_table(
        index="key", columns="measure", values="value"
    )
    columns = [c for c, _ in MEAN_COLUMNS if c != "dice_area"]
    report.table(
        [
            [pretty_key(k)]
            + [num(r.get(c), ".0f" if c == "pointing_game" else ".2f") for c in columns]
            for k, r in per_image.reindex(numbers["keys"]).iterrows()
        ],
        header=["image", *(h for c, h in MEAN_COLUMNS if c in columns)],
        col_widths=[w * cm for w in (4.2, 2.4, 2.4, 2.4, 2.0, 2.6)],
        caption=f"{title(primary)} vs LIME per image (compare/agreement.csv).",
    )
    if numbers.get("label_mismatches"):
        report.paragraph(
            "CAM and LIME explain different classes for "
            + text(join_names([pretty_key(k) for k in numbers["label_mismatches"]]))
            + ": their agreement there compares explanations of two different decisions."
        )


def complexity_section(report: Report, numbers: dict[str, Any], folder: Path) -> None:
    report.heading("Do simple images agree more?")
    c = numbers["complexity"]
    report.paragraph(text(c["paragraph"]))
    rows = [
        [LABELS.get(m, m), num(v["rho"]), "n/a" if v["p"] is None else p_text(v["p"]), str(v["n"])]
        for m, v in c["correlations"].items()
    ]
    report.table(
        rows,
        header=["complexity measure", "Spearman ρ with IoU", "p", "images"],
        caption=f"Complexity against {text(c['iou'])} (compare/correlations.csv).",
    )
    for name, caption in (
        ("complexity_scatter.png", "Each complexity measure against IoU, with the image names."),
        ("iou_bars.png", "IoU per image, sorted, with the chance level, every CAM method."),
        ("iou_sweep.png", "IoU as a function of the CAM threshold, one curve per image."),
    ):
        if (folder / name).is_file():
            report.figure(folder / name, caption=caption, max_height=0.6 * PAGE_HEIGHT)


def faithfulness_section(report: Report, numbers: dict[str, Any], folder: Path) -> None:
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
    report.table(
        [
            [
                title(r["method"]),
                num(r["deletion_auc"], ".3f"),
                num(r["insertion_auc"], ".3f"),
                _count(r["deletion_beats_random"], r["images"]),
                _count(r["insertion_beats_random"], r["images"]),
            ]
            for _, r in table.iterrows()
        ],
        header=[
            "method",
            "deletion AUC ↓",
            "insertion AUC ↑",
            "deletion beats random",
            "insertion beats random",
        ],
        caption="Mean AUC over the images (compare/faithfulness_summary.csv).",
    )
    if (folder / "faithfulness_curves.png").is_file():
        report.figure(
            folder / "faithfulness_curves.png",
            caption="Deletion and insertion curves, mean over the images.",
            max_height=9 * cm,
        )


def _count(value: Any, images: Any) -> str:
    return "" if pd.isna(value) else f"{int(value)} of {int(images)}"


def sanity_section(report: Report, numbers: dict[str, Any], folder: Path) -> None:
    if "sanity" not in numbers:
        return
    s = numbers["sanity"]
    report.heading("Sanity check: model parameter randomisation")
    report.paragraph(
        f"The model's blocks are re-initialised from the top down ({len(s['blocks'])} block(s): "
        f"{text(join_names(s['blocks']))}; on {s['images']} image(s)) and each method's map is "
        "compared with its map for the trained model (Spearman ρ and SSIM). A map that barely "
        "changes explains the image, not the model. After the whole cascade: "
        + "; ".join(
            f"{title(m)} ρ {num(v['spearman'])}, SSIM {num(v['ssim'])} ({text(v['verdict'])})"
            for m, v in s["final"].items()
        )
        + _thresholds(s)
        + "."
    )
    if (folder / "sanity.png").is_file():
        report.figure(
            folder / "sanity.png",
            caption="Similarity to the original map as more blocks are randomised.",
            max_height=8 * cm,
        )


def _thresholds(s: dict[str, Any]) -> str:
    if "changed_below" not in s:
        return ""
    return (
        f" (verdict from ρ: below {num(s['changed_below'], '.1f')} changes strongly, above "
        f"{num(s['unchanged_above'], '.1f')} barely changes)"
    )


def panels(report: Report, numbers: dict[str, Any], folder: Path) -> None:
    report.heading("Per-image comparisons")
    report.paragraph(
        "For each image: the CAM, its ≥ 0.5 region, LIME's mask, and their intersection and "
        f"differences, for {join_names([title(m) for m in numbers['cam_methods']])}."
    )
    image_panels(report, folder, numbers["keys"], width=0.8 * TEXT_WIDTH, max_height=12 * cm)
