"""Report 2: the CAM methods (Grad-CAM, AblationCAM, ScoreCAM ...) on the images of a run.

A renderer of the CAM findings record (:class:`~explainlab.cam.findings.CamFindings`, the
cam stage's summary.json, or the same computed into ``reports/tables/2_cam/`` for a cam
folder made before the stage wrote it), as the stage's summary.txt is another: page 1
(question, setting, key figure, the record's findings) and the main tables -> the
appendix (per-image tables and every image's maps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from reportlab.lib.units import cm
from reportlab.platypus import CondPageBreak

from explainlab import runfolder
from explainlab.assignment.report.common import (
    RunFacts,
    join_names,
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
KEY_ROWS = 2  # images in the page-1 figure
KEY_WIDTH_IN = 6.85  # the page-1 figure's print width: two images side by side
APPENDIX_ROWS = 5  # images per appendix figure
APPENDIX_WIDTH_IN = 6.2


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


def key_images(t: CamTables, rows: int = KEY_ROWS) -> dict[str, str]:
    """The page-1 images and why each, by rule: where the methods agree least, the first
    misclassified one, where they agree most; then the run's order."""
    order = list(t.images.dropna(subset=["rho_mean"]).sort_values("rho_mean")["key"])
    p = t.predictions
    wrong = list(p.loc[p["true_id"].notna() & ~p["correct"], "key"])
    candidates = [
        *((k, "the methods agree least") for k in order[:1]),
        *((k, "misclassified") for k in wrong[:1]),
        *((k, "the methods agree most") for k in order[-1:]),
        *((k, "") for k in p["key"]),
    ]
    picks: dict[str, list[str]] = {}
    for key, why in candidates:
        if key in picks or len(picks) < rows:
            picks.setdefault(key, []).append(why)
    return {k: ", ".join(w for w in whys if w) for k, whys in picks.items()}


def key_caption(t: CamTables, keys: dict[str, str]) -> str:
    """Each page-1 image with its top-1 class and why it was chosen."""
    by_key = t.predictions.set_index("key")
    parts = []
    for key, why in keys.items():
        p = by_key.loc[key]
        taken = "taken for " if pd.notna(p["true_id"]) and not p["correct"] else "top-1 "
        parts.append(
            f"{text(pretty_key(key))} ({taken}{text(p['top1_name'])}, {pct(p['top1_prob'])}"
            + (f"; {why})" if why else ")")
        )
    return join_names(parts)


def grid_rows(
    facts: RunFacts, t: CamTables, keys: list[str], predicted: bool = True
) -> list[GridRow]:
    """The rows of a map grid, labelled with the image (and its prediction)."""
    cam = stage_dir(facts.run_dir, "cam")
    methods = list(t.methods.index)
    by_key = t.predictions.set_index("key")
    rows = []
    for key in keys:
        p = by_key.loc[key]
        mark = "" if pd.isna(p["true_id"]) else f" {verdict(p['correct'])}"
        label = pretty_key(key)
        if predicted:
            label += f": {p['top1_name']} {p['top1_prob']:.0%}{mark}"
        maps = {m: np.load(cam / key / f"{m}.npy") for m in methods}
        rows.append(GridRow(label, read_crop(cam / key, methods[0]), maps))
    return rows


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


def main_tables(report: Report, t: CamTables) -> None:
    """The predictions and the agreement between the methods (main part, page 2)."""
    report.story.append(CondPageBreak(6 * cm))  # the heading stays with its table
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


def appendix(report: Report, facts: RunFacts, t: CamTables, figures: Path) -> None:
    report.appendix("Appendix: each image's maps and numbers")
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
    keys = list(t.predictions["key"])
    for i in range(0, len(keys), APPENDIX_ROWS):
        chunk = keys[i : i + APPENDIX_ROWS]
        path = save_grid(
            grid_rows(facts, t, chunk),
            figures / f"maps_{i // APPENDIX_ROWS + 1}.png",
            APPENDIX_WIDTH_IN,
        )
        report.figure(
            path,
            caption="Input crop and each method's map (jet, red = high); "
            "label: image, top-1 class and probability, ✓/✗ against the true class.",
            max_height=23 * cm,
        )


def build(facts: RunFacts, out: Path) -> Path:
    tables, figures = out.parent / "tables" / "2_cam", out.parent / "figures" / "2_cam"
    record, t, recorded = read_tables(facts, tables)
    model = recorded["model"]
    names = ", ".join(title(m) for m in t.methods.index)
    report = facts.new_report(f"CAMs: {names}", "report 2", facts.banner(model))
    keys = key_images(t)
    figures.mkdir(parents=True, exist_ok=True)
    key_figure = save_grid(
        grid_rows(facts, t, list(keys), predicted=False),
        figures / "key_maps.png",
        KEY_WIDTH_IN,
        per_row=KEY_ROWS,
    )
    front_page(
        report,
        question=QUESTION,
        setting=setting(facts, record, recorded, model),
        figure=key_figure,
        caption=f"Maps (jet colour map, red = high) of {key_caption(t, keys)}.",
        findings=record.findings,
        appendix="every image's maps, shares and agreement.",
        figure_height=12 * cm,
    )
    main_tables(report, t)
    appendix(report, facts, t, figures)
    return report.save(out)
