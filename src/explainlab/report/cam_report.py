"""Report 2: Grad-CAM, AblationCAM and ScoreCAM on the images of a run."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from reportlab.lib.units import cm

from explainlab import runfolder
from explainlab.cam.figures import METHOD_TITLES
from explainlab.masks import iou, spearman, threshold_mask
from explainlab.report.common import (
    RunFacts,
    geometry_text,
    image_panels,
    join_names,
    num,
    pct,
    pretty_key,
    verdict,
)
from explainlab.report.pdf import text
from explainlab.stages import stage_dir


def _true_rank(row: pd.Series) -> str:
    if pd.isna(row["true_id"]):
        return "-"
    for r in range(1, 6):
        if row.get(f"top{r}_id") == row["true_id"]:
            return str(r)
    return ">5"


def method_agreement(cam: Path, keys: list[str], methods: list[str]) -> pd.DataFrame:
    """Per image and method pair: Spearman rho of the maps, IoU of their >= 0.5 regions and
    the distance between their peaks (pixels)."""
    rows = []
    for key in keys:
        maps = {m: np.load(cam / key / f"{m}.npy") for m in methods}
        for a, b in itertools.combinations(methods, 2):
            peak_a = np.unravel_index(np.argmax(maps[a]), maps[a].shape)
            peak_b = np.unravel_index(np.argmax(maps[b]), maps[b].shape)
            rows.append(
                {
                    "key": key,
                    "pair": f"{METHOD_TITLES[a]} / {METHOD_TITLES[b]}",
                    "rho": spearman(maps[a], maps[b])[0],
                    "iou_half": iou(threshold_mask(maps[a], 0.5), threshold_mask(maps[b], 0.5)),
                    "peak_distance": float(np.hypot(peak_a[0] - peak_b[0], peak_a[1] - peak_b[1])),
                }
            )
    return pd.DataFrame(rows)


def focus(cam: Path, keys: list[str], methods: list[str]) -> pd.Series:
    """Mean fraction of the crop at or above half of each method's maximum."""
    return pd.Series(
        {
            m: float(np.mean([(np.load(cam / k / f"{m}.npy") >= 0.5).mean() for k in keys]))
            for m in methods
        }
    )


def build(facts: RunFacts, out: Path) -> Path:
    cam = stage_dir(facts.run_dir, "cam")
    recorded = runfolder.recorded_settings(cam)
    settings, model, layer = recorded["settings"], recorded["model"], recorded["layer"]
    methods = list(settings["methods"])
    predictions = pd.read_csv(cam / "predictions.csv")
    timings = pd.read_csv(cam / "timings.csv")
    keys = list(predictions["key"])
    report = facts.new_report(
        "Class activation maps: Grad-CAM, AblationCAM, ScoreCAM", "report 2", facts.banner(model)
    )
    facts.stand_in_paragraph(report, model)

    impl = (
        "our exact fast variants (tested to give pytorch-grad-cam's maps within 1e-4)"
        if settings["impl"] == "fast"
        else "pytorch-grad-cam's own implementations"
    )
    report.paragraph(
        f"Model: {text(facts.model_description(model))}. Target layer <b>{text(layer)}</b>; each "
        f"image is explained for its top-1 class. {len(keys)} images, each cropped the one way every "
        f"method sees it, the model's own evaluation transform: {text(geometry_text(recorded))}. Methods: {join_names([METHOD_TITLES[m] for m in methods])}, "
        f"computed with {impl}. Maps are min-max normalised to [0, 1]."
    )

    # -- predictions
    report.heading("Predictions")
    known = predictions.dropna(subset=["true_id"])
    wrong = known[[verdict(v) == "✗" for v in known["top1_correct"]]]
    sentence = f"{len(known) - len(wrong)} of {len(known)} images are classified correctly (top-1)."
    if len(wrong):
        parts = []
        for _, r in wrong.iterrows():
            rank = _true_rank(r)
            where = (
                f"the true class is ranked {rank}"
                if rank != ">5"
                else "the true class is not in the top 5"
            )
            parts.append(
                f"<b>{text(pretty_key(r['key']))}</b> is taken for {text(r['top1_name'])} "
                f"({pct(r['top1_prob'])}; {where})"
            )
        sentence += (
            " Mistaken: "
            + "; ".join(parts)
            + ". Their maps explain the predicted class, so they show what the model used to make the mistake."
        )
    report.paragraph(sentence)
    report.table(
        [
            [
                pretty_key(r["key"]),
                r["true_name"] if isinstance(r["true_name"], str) else "-",
                r["top1_name"],
                pct(r["top1_prob"], 1),
                _true_rank(r),
                verdict(r["top1_correct"]),
            ]
            for _, r in predictions.iterrows()
        ],
        header=["image", "true class", "predicted", "p", "rank of true", "ok"],
        col_widths=[w * cm for w in (3.6, 4.2, 4.2, 1.6, 2.0, 1.0)],
    )

    # -- what the methods highlight
    report.heading("What each method highlights, and where they differ")
    spread = focus(cam, keys, methods)
    agreement = method_agreement(cam, keys, methods)
    lines = [
        "The share of the crop at or above half of the maximum measures how focused a map is: "
        + "; ".join(f"{METHOD_TITLES[m]} {pct(spread[m])}" for m in methods)
        + f" on average. The most focused is {METHOD_TITLES[spread.idxmin()]}, the broadest {METHOD_TITLES[spread.idxmax()]}."
    ]
    if len(agreement):
        by_pair = agreement.groupby("pair").agg(
            rho=("rho", "mean"), iou=("iou_half", "mean"), peak=("peak_distance", "median")
        )
        best, worst = by_pair["rho"].idxmax(), by_pair["rho"].idxmin()
        lines.append(
            f"Pairwise, the maps agree most for {best} (mean Spearman ρ {num(by_pair.loc[best, 'rho'])}, "
            f"IoU of the ≥ 0.5 regions {num(by_pair.loc[best, 'iou'])}) and least for {worst} "
            f"(ρ {num(by_pair.loc[worst, 'rho'])}, IoU {num(by_pair.loc[worst, 'iou'])})."
        )
        per_image = agreement.groupby("key")["rho"].mean().sort_values()
        low, high = per_image.index[0], per_image.index[-1]
        lines.append(
            f"The methods disagree most on <b>{text(pretty_key(low))}</b> (mean ρ {num(per_image[low])}) "
            f"and agree most on <b>{text(pretty_key(high))}</b> (ρ {num(per_image[high])}). Peaks lie "
            f"a median {num(agreement['peak_distance'].median(), '.0f')} pixels apart."
        )
        report.paragraph(" ".join(lines))
        report.table(
            [
                [p, num(r["rho"]), num(r["iou"]), num(r["peak"], ".0f")]
                for p, r in by_pair.iterrows()
            ],
            header=[
                "method pair",
                "mean Spearman ρ",
                "mean IoU (≥ 0.5)",
                "median peak distance (px)",
            ],
            caption="Agreement between the CAM methods over the images (ρ on the 224×224 maps).",
        )
    else:
        report.paragraph(" ".join(lines))

    # -- timings
    report.heading("Timings")
    per_method = timings.groupby("method")["seconds"].agg(["mean", "sum"])
    report.paragraph(
        "Seconds per image on this run's device: "
        + "; ".join(
            f"{METHOD_TITLES[m]} {num(per_method.loc[m, 'mean'], '.2f')} s"
            for m in methods
            if m in per_method.index
        )
        + f" ({settings['impl']} implementation). The benchmark (make bench) times pytorch-grad-cam and "
        "our variants side by side; see the README's table."
    )

    # -- the panels
    report.heading("The maps")
    image_panels(report, cam, keys, "input crop and the three maps (jet colour map, red = high).")
    return report.save(out)
