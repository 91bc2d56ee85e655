"""Report 2: Grad-CAM, AblationCAM and ScoreCAM on the images of a run.

Read the tables (the cam stage's summary, or the same computed into
``reports/tables/2_cam/`` for a cam folder made before the stage wrote it) -> choose the
findings (:mod:`cam_findings`) -> page 1 (question, setting, key figure, findings) and the
main tables -> the appendix (per-image tables and every image's maps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from reportlab.lib.units import cm

from explainlab import runfolder
from explainlab.cam.figures import GridRow, read_crop, save_grid
from explainlab.cam.summary import read_summary, summarise
from explainlab.report.cam_findings import CamTables, choose, pair_title, title
from explainlab.report.common import RunFacts, geometry_text, join_names, num, pct, pretty_key
from explainlab.report.findings import front_page
from explainlab.report.pdf import Report, text
from explainlab.stages import stage_dir

QUESTION = (
    "Apply Grad-CAM, AblationCAM and ScoreCAM (pytorch-grad-cam) to the ten given ImageNet "
    "images with ResNet50 (IMAGENET1K_V2) at its last convolutional block: what do the maps "
    "highlight, and how do the methods differ?"
)
KEY_ROWS = 3  # images in the page-1 figure
KEY_WIDTH_IN = 5.2  # the page-1 figure's print width
APPENDIX_ROWS = 5  # images per appendix figure
APPENDIX_WIDTH_IN = 6.2


def true_rank(row: pd.Series) -> float:
    """Where the true class stands in the top 5 (NaN: unknown class, or not in it)."""
    for r in range(1, 6):
        if pd.notna(row["true_id"]) and row.get(f"top{r}_id") == row["true_id"]:
            return float(r)
    return float("nan")


def prediction_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions with the true class's rank and top-1 correctness as a boolean."""
    frame = predictions[["key", "true_id", "true_name", "top1_id", "top1_name", "top1_prob"]]
    frame = frame.assign(
        true_rank=[true_rank(r) for _, r in predictions.iterrows()],
        correct=[
            str(v).strip().lower() in ("true", "1", "1.0") for v in predictions["top1_correct"]
        ],
        target_id=predictions["target_id"],
    )
    return frame


def read_tables(facts: RunFacts, tables: Path) -> tuple[CamTables, dict]:
    cam = stage_dir(facts.run_dir, "cam")
    recorded = runfolder.recorded_settings(cam)
    predictions = prediction_table(pd.read_csv(cam / "predictions.csv"))
    tables.mkdir(parents=True, exist_ok=True)
    runfolder.write_csv(tables / "predictions.csv", predictions)
    found, where = read_summary(cam), "cam"
    if found is None:  # a cam folder made before the stage wrote its summary
        keys, methods = list(predictions["key"]), list(recorded["settings"]["methods"])
        found, where = summarise(cam, keys, methods, tables), "reports/tables/2_cam"
    t = CamTables(
        summary=found["summary.json"],
        methods=found["method_summary.csv"].set_index("method", drop=False),
        pairs=found["pair_summary.csv"].set_index("pair", drop=False),
        images=found["per_image.csv"],
        focus=found["focus.csv"],
        predictions=predictions,
        layer=recorded["layer"],
        impl=recorded["settings"]["impl"],
        where=where,
    )
    return t, recorded


def key_images(t: CamTables, rows: int = KEY_ROWS) -> list[str]:
    """The page-1 images, by rule: where the methods agree least, a misclassified one,
    where they agree most (the run's order where there is no agreement)."""
    images = t.images.dropna(subset=["rho_mean"]).sort_values("rho_mean")
    wrong = list(
        t.predictions.loc[t.predictions["true_id"].notna() & ~t.predictions["correct"], "key"]
    )
    picks = [*images["key"][:1], *wrong[:1], *images["key"][-1:], *t.predictions["key"]]
    return list(dict.fromkeys(picks))[:rows]


def grid_rows(facts: RunFacts, t: CamTables, keys: list[str]) -> list[GridRow]:
    cam = stage_dir(facts.run_dir, "cam")
    methods = list(t.methods.index)
    by_key = t.predictions.set_index("key")
    rows = []
    for key in keys:
        p = by_key.loc[key]
        verdict = "" if pd.isna(p["true_id"]) else (" ✓" if p["correct"] else " ✗")
        label = f"{pretty_key(key)}: {p['top1_name']} {p['top1_prob']:.0%}{verdict}"
        maps = {m: np.load(cam / key / f"{m}.npy") for m in methods}
        rows.append(GridRow(label, read_crop(cam / key, methods[0]), maps))
    return rows


def setting(facts: RunFacts, t: CamTables, recorded: dict, model: str) -> str:
    impl = (
        "our exact fast variants of pytorch-grad-cam's (equal within 1e-4)"
        if t.impl == "fast"
        else "pytorch-grad-cam's own implementations"
    )
    sentence = (
        f"<b>What was done.</b> {join_names([title(m) for m in t.methods.index])}, computed with "
        f"{impl}, on {t.n} images with {text(facts.model_description(model))} at layer "
        f"<b>{text(t.layer)}</b>; each image is explained for its top-1 class on the model's "
        f"crop ({text(geometry_text(recorded))}), each map min-max normalised to [0, 1]."
    )
    return " ".join(s for s in (sentence, facts.stand_in_sentence(model)) if s)


def main_tables(report: Report, t: CamTables) -> None:
    """The predictions and the agreement between the methods (main part, page 2)."""
    report.heading("Predictions and agreement", level=2)
    report.table(
        [
            [
                pretty_key(r["key"]),
                r["true_name"] if isinstance(r["true_name"], str) else "-",
                r["top1_name"],
                pct(r["top1_prob"], 1),
                "-" if pd.isna(r["true_rank"]) else f"{int(r['true_rank'])}",
                "-" if pd.isna(r["true_id"]) else ("✓" if r["correct"] else "✗"),
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
                "mean IoU (≥ 0.5)",
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
        header=["method", "mean share ≥ 0.5", "share range", "s per image", "s in all"],
        caption=f"Extent and cost of each method's maps ({t.where}/method_summary.csv).",
    )


def appendix(report: Report, facts: RunFacts, t: CamTables, figures: Path) -> None:
    report.appendix("Appendix: each image's maps and numbers")
    pairs = [c for c in t.images.columns if c.startswith("rho_") and c != "rho_mean"]
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
            *(f"{title(m)} share ≥ 0.5" for m in methods),
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
    t, recorded = read_tables(facts, tables)
    model = recorded["model"]
    report = facts.new_report(
        "Class activation maps: Grad-CAM, AblationCAM, ScoreCAM", "report 2", facts.banner(model)
    )
    keys = key_images(t)
    figures.mkdir(parents=True, exist_ok=True)
    key_figure = save_grid(grid_rows(facts, t, keys), figures / "key_maps.png", KEY_WIDTH_IN)
    device = str(facts.manifest.get("device", "device"))
    front_page(
        report,
        question=QUESTION,
        setting=setting(facts, t, recorded, model),
        figure=key_figure,
        caption="Input crop and each method's map (jet colour map, red = high) for "
        + join_names([text(pretty_key(k)) for k in keys])
        + ": where the methods agree least, a misclassified image, where they agree most. "
        "Label: top-1 class, its probability, ✓/✗ against the true class.",
        findings=choose(t, device),
        appendix=f"each image's shares and agreement (table), and the maps of all {t.n} images.",
        figure_height=12 * cm,
    )
    main_tables(report, t)
    appendix(report, facts, t, figures)
    return report.save(out)
