"""Report 2: the CAM methods (Grad-CAM, AblationCAM, ScoreCAM ...) on the images of a run.

A renderer of the CAM findings record (:class:`~explainlab.cam.findings.CamFindings`, the
cam stage's summary.json, or the same computed into ``reports/tables/2_cam/`` for a cam
folder made before the stage wrote it), as the stage's summary.txt is another: page 1
(question, setting, the record's findings), page 2 (every image's maps by every method,
one row per image) -> the appendix (the predictions, the agreement and per-image tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from reportlab.lib.units import cm, inch

from explainlab import runfolder
from explainlab.assignment.report.common import (
    RunFacts,
    num,
    pct,
    pretty_key,
    verdict,
)
from explainlab.cam import findings
from explainlab.cam.figures import GridRow, read_crop, save_grid
from explainlab.cam.findings import CamFindings, CamTables, pair_title, prediction_table
from explainlab.cam.summary import HALF
from explainlab.methods import title_of as title
from explainlab.report.findings import front_page
from explainlab.report.pdf import Report, text
from explainlab.stages import stage_dir

QUESTION = (
    "Apply Grad-CAM, AblationCAM and ScoreCAM (pytorch-grad-cam) to the ten ImageNet images "
    "with ResNet50 (IMAGENET1K_V2) at its last convolutional block: what do the maps "
    "highlight, how do the methods differ?"
)
GRID_WIDTH_IN = 6.85  # the maps figure's most print width: the text width
# its most height: page 2 less its heading and caption (under the banner of a stand-in)
GRID_HEIGHT_IN = 8.9
GRID_FILE = "maps.png"


def read_tables(facts: RunFacts, tables: Path) -> tuple[CamFindings, CamTables, dict]:
    cam = stage_dir(facts.run_dir, "cam")
    recorded = runfolder.recorded_settings(cam)
    predictions = prediction_table(pd.read_csv(cam / "predictions.csv"))
    tables.mkdir(parents=True, exist_ok=True)
    runfolder.write_csv(tables / "predictions.csv", predictions)
    record, t = findings.read(
        cam,
        list(predictions["key"]),
        list(recorded["settings"]["methods"]),
        tables,
        device=str(facts.manifest.get("device", "device")),
        where="reports/tables/2_cam",  # a cam folder made before the stage wrote its summary
    )
    return record, t, recorded


def grid_rows(facts: RunFacts, t: CamTables) -> list[GridRow]:
    """One row per image of the run, in its order: the image's name over its top-1 class
    (the class every map explains), its probability and ✓/✗ against the true class."""
    cam = stage_dir(facts.run_dir, "cam")
    methods = list(t.methods.index)
    rows = []
    for _, p in t.predictions.iterrows():
        key = p["key"]
        mark = "" if pd.isna(p["true_id"]) else f" {verdict(p['correct'])}"
        label = f"{pretty_key(key)}\ntop-1: {p['top1_name']} {p['top1_prob']:.0%}{mark}"
        maps = {m: np.load(cam / key / f"{m}.npy") for m in methods}
        rows.append(GridRow(label, read_crop(cam / key, methods[0]), maps))
    return rows


def maps_page(report: Report, facts: RunFacts, t: CamTables, figures: Path) -> None:
    """Page 2: every image's crop and maps, one row per image."""
    path = save_grid(
        grid_rows(facts, t), figures / GRID_FILE, GRID_WIDTH_IN, height_in=GRID_HEIGHT_IN
    )
    report.page_break()
    report.heading("Every image's maps")
    report.figure(
        path,
        caption="Each image's input crop and each method's map of its top-1 class (jet, red = "
        "high; min-max normalised); left of each row: the image, its top-1 class and probability, "
        "✓/✗ against the true class.",
        max_height=GRID_HEIGHT_IN * inch + 1,  # at the size it was drawn (no shrinking)
    )


def setting(facts: RunFacts, record: CamFindings, recorded: dict, model: str) -> str:
    """What was done, with what computed each method's maps (the run's records); a
    stand-in model is described once, by the stand-in sentence."""
    stand_in = facts.stand_in_sentence(model)
    model_name = "the stand-in model" if stand_in else text(facts.model_description(model))
    geometry = recorded.get("geometry") or {"resize": 256, "crop": 224}
    sentence = (
        f"<b>What was done.</b> {text(record.methods_phrase())} on {record.images} images "
        f"with {model_name} at layer <b>{text(record.layer)}</b>, each explained for its "
        f"top-1 class on the model's crop (Resize({geometry['resize']}) → "
        f"CenterCrop({geometry['crop']})); maps min-max normalised to [0, 1]."
    )
    return " ".join(s for s in (sentence, stand_in) if s)


def prediction_tables(report: Report, t: CamTables) -> None:
    """The predictions and the agreement between the methods (the appendix's first page)."""
    report.heading("Predictions and agreement", level=2)
    report.table(
        [
            [
                pretty_key(r["key"]),
                r["true_name"] if isinstance(r["true_name"], str) else "-",
                r["top1_name"],
                pct(r["top1_prob"], 1),
                "-" if pd.isna(r["true_rank"]) else f"{int(r['true_rank'])}",
                verdict(None if pd.isna(r["true_id"]) else r["correct"]),
            ]
            for _, r in t.predictions.iterrows()
        ],
        header=["image", "true class", "predicted (top-1)", "p", "rank of true", "ok"],
        col_widths=[w * cm for w in (3.8, 4.4, 4.4, 1.6, 1.8, 1.0)],
        caption="Top-1 predictions (cam/predictions.csv); rank of true: its place in the top 5.",
    )
    if len(t.pairs):
        report.table(
            [
                [
                    pair_title(r),
                    num(r["rho_mean"]),
                    f"{num(r['rho_min'])}–{num(r['rho_max'])}",
                    num(r["iou_mean"]),
                    num(r["peak_median"], ".0f"),
                ]
                for _, r in t.pairs.iterrows()
            ],
            header=[
                "method pair",
                "mean ρ",
                "ρ range",
                f"mean IoU (≥ {HALF})",
                "median peak distance (px)",
            ],
            caption=f"Agreement between the methods over the images: Spearman ρ of the whole "
            f"maps, IoU of their regions at or above half the maximum ({t.where}/pair_summary.csv).",
        )
    report.table(
        [
            [
                title(m),
                pct(r["focus_mean"]),
                f"{pct(r['focus_min'])}–{pct(r['focus_max'])}",
                num(r["seconds_mean"], ".2f"),
                num(r["seconds_total"], ".1f"),
            ]
            for m, r in t.methods.iterrows()
        ],
        header=["method", f"mean share ≥ {HALF}", "share range", "s per image", "s in all"],
        caption=f"Extent and cost of each method's maps ({t.where}/method_summary.csv).",
    )


def appendix(report: Report, t: CamTables) -> None:
    report.appendix("Appendix: predictions, agreement and each image's numbers")
    prediction_tables(report, t)
    pairs = [f"rho_{p}" for p in t.pairs.index if f"rho_{p}" in t.images.columns]
    methods = list(t.methods.index)
    report.table(
        [
            [
                pretty_key(r["key"]),
                *(pct(r[f"focus_{m}"]) for m in methods),
                *(num(r[c]) for c in pairs),
            ]
            for _, r in t.images.iterrows()
        ],
        header=[
            "image",
            *(f"{title(m)} share ≥ {HALF}" for m in methods),
            *(f"ρ {pair_title(t.pairs.loc[c[4:]])}" for c in pairs),
        ],
        caption=f"Per image: the share of the crop at or above half each map's maximum, and the "
        f"Spearman ρ between the methods' maps ({t.where}/per_image.csv).",
    )


def build(facts: RunFacts, out: Path) -> Path:
    tables, figures = out.parent / "tables" / "2_cam", out.parent / "figures" / "2_cam"
    record, t, recorded = read_tables(facts, tables)
    model = recorded["model"]
    names = ", ".join(title(m) for m in t.methods.index)
    report = facts.new_report(f"CAMs: {names}", "report 2", facts.banner(model))
    figures.mkdir(parents=True, exist_ok=True)
    front_page(
        report,
        question=QUESTION,
        setting=setting(facts, record, recorded, model),
        figure=None,  # the maps fill page 2
        caption="",
        findings=record.findings,
        appendix="the predictions, the agreement between the methods and each image's shares "
        "(page 2: every image's maps).",
    )
    maps_page(report, facts, t, figures)
    appendix(report, t)
    return report.save(out)
