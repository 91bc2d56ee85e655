"""The findings of report 2, each chosen by a rule from the CAM tables of the run
(:mod:`explainlab.cam.summary` and ``predictions.csv``): the maps' resolution, how
ScoreCAM differs, Grad-CAM against AblationCAM, the misclassified images, the cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from explainlab.assignment.report.common import num, pct, pretty_key
from explainlab.cam.summary import HALF
from explainlab.methods import get_method, title_of
from explainlab.report.findings import Finding, file_ref
from explainlab.report.pdf import text

COARSE_CELL_PX = 16  # a grid cell this many crop pixels wide or more: blobs, not outlines
CLOSE_RHO, SIMILAR_RHO = 0.8, 0.5  # mean Spearman rho: nearly the same maps / similar maps
CONSISTENT = 0.75  # a difference seen on at least this share of the images is consistent
FEW_IMAGES = 3  # fewer images than this support no statement about a method
RHO_GAP = 0.05  # mean rho closer than this: no difference in agreement is read


@dataclass(frozen=True, kw_only=True)
class CamTables:
    """What the rules read: the stage's summary tables, indexed, and the predictions."""

    summary: dict[str, Any]  # summary.json
    methods: pd.DataFrame  # method_summary.csv, indexed by method
    pairs: pd.DataFrame  # pair_summary.csv, indexed by pair
    images: pd.DataFrame  # per_image.csv
    focus: pd.DataFrame  # focus.csv
    predictions: pd.DataFrame  # predictions with true_rank (reports/tables/2_cam/)
    layer: str
    impl: str
    where: str  # the folder the summary tables were read from, for the evidence

    @property
    def n(self) -> int:
        return int(self.summary["images"])


def title(method: str) -> str:
    return title_of(method)


def pair_title(row: pd.Series, sep: str = " / ") -> str:
    return f"{title(row['method_a'])}{sep}{title(row['method_b'])}"


def resolution(t: CamTables) -> Finding:
    """The target layer's grid against the crop: how fine a map can be."""
    grid, crop, cell = t.summary.get("grid"), t.summary["crop"], t.summary.get("cell_px")
    if not grid:
        return Finding(
            "This run does not record the grid the maps are upsampled from.",
            f"Its cam folder has no grid in item.json {file_ref(t.where + '/summary.json')}.",
            "without the target layer's h×w the finest detail a map can show cannot be "
            "stated; rerun the cam stage (--force cam) to record it.",
        )
    size = f"{grid[0]}×{grid[1]}"
    spread = f"{pct(t.focus['focus'].min())}–{pct(t.focus['focus'].max())}"
    evidence = (
        f"Layer {text(t.layer)} gives {size} maps ({t.summary['channels']} channels) for the "
        f"{crop[0]}×{crop[1]} crop, {num(cell, '.0f')} pixels per cell; the regions at or above "
        f"half the maximum cover {spread} of the crop "
        f"{file_ref(t.where + '/summary.json, focus.csv')}."
    )
    if cell >= COARSE_CELL_PX:
        return Finding(
            f"The maps are blobs on a {size} grid, not outlines.",
            evidence,
            f"a CAM is a weighted sum of the layer's {size} maps, bilinearly upsampled: no edge "
            "finer than a cell, so it marks a smooth region around the evidence, not the "
            "object's boundary.",
        )
    return Finding(
        f"The maps resolve detail down to about {num(cell, '.0f')} pixels.",
        evidence,
        f"a CAM is a weighted sum of the layer's {size} maps, upsampled: a grid this fine lets "
        "it follow object parts.",
    )


def extent(t: CamTables) -> str:
    """ "broader" or "narrower" where ScoreCAM's high regions are so on average and on at
    least :data:`CONSISTENT` of at least :data:`FEW_IMAGES` images; else ""."""
    sc, n = t.methods.loc["scorecam"], t.n
    rest = t.methods.drop(index="scorecam")["focus_mean"]
    if n < FEW_IMAGES:
        return ""
    if sc["focus_mean"] > rest.max() and sc["broadest_images"] >= CONSISTENT * n:
        return "broader"
    if sc["focus_mean"] < rest.min() and sc["narrowest_images"] >= CONSISTENT * n:
        return "narrower"
    return ""


def set_apart(t: CamTables) -> bool | None:
    """Whether ScoreCAM agrees less with each other method than those agree among
    themselves by at least :data:`RHO_GAP` (None: no pair without ScoreCAM)."""
    has = (t.pairs["method_a"] == "scorecam") | (t.pairs["method_b"] == "scorecam")
    if has.all():
        return None
    return bool(t.pairs.loc[has, "rho_mean"].max() + RHO_GAP <= t.pairs.loc[~has, "rho_mean"].min())


WHY_EXTENT = {
    "broader": "a region that alone keeps the score up (the object, often its context) gets "
    "weight where the gradient is small, so the high region spreads",
    "narrower": "the softmax gives nearly all weight to the few channels whose masked image "
    "scores highest, so the map shrinks to their regions",
    "": "here that moves the extent in no consistent direction",
}


def scorecam(t: CamTables) -> Finding | None:
    """How ScoreCAM's maps differ from the others, and why."""
    if "scorecam" not in t.methods.index or len(t.methods) < 2:
        return None
    word, apart = extent(t), set_apart(t)
    others = [title(m) + "'s" for m in t.methods.index if m != "scorecam"]
    names = others[0] if len(others) == 1 else "the others'"
    if word:
        claim = f"ScoreCAM's maps are {word} than {names}"
    elif t.n < FEW_IMAGES:
        claim = f"On {t.n} images ScoreCAM's maps cannot be called broader or narrower than {names}"
    else:
        claim = f"ScoreCAM's maps are no broader or narrower than {names}"
    if apart is not None:
        claim += (
            "; they agree less with them than those agree with each other."
            if apart
            else "; they agree with them as well as those agree with each other."
        )
    sc = t.methods.loc["scorecam"]
    extents = ", ".join(f"{title(m)} {pct(r['focus_mean'])}" for m, r in t.methods.iterrows())
    rhos = ", ".join(f"{pair_title(r, '/')} {num(r['rho_mean'])}" for _, r in t.pairs.iterrows())
    return Finding(
        claim.rstrip(".") + ".",
        f"Mean share of the crop ≥ half the maximum: {extents} (ScoreCAM broadest on "
        f"{sc['broadest_images']}, narrowest on {sc['narrowest_images']} of {t.n} images); mean "
        f"ρ: {rhos} {file_ref(t.where + '/method_summary.csv, pair_summary.csv')}.",
        "a channel's weight is a softmax, over channels, of the class score of the image "
        "masked by its upsampled map: its region's own effect on the output, not a gradient; "
        f"{WHY_EXTENT[word]}"
        + ("." if t.n >= FEW_IMAGES else f" ({t.n} images are too few to tell)."),
    )


def gradcam_ablationcam(t: CamTables) -> Finding | None:
    """How far Grad-CAM and AblationCAM agree, and why they can differ."""
    if "gradcam/ablationcam" not in t.pairs.index:
        return None
    r = t.pairs.loc["gradcam/ablationcam"]
    rho = r["rho_mean"]
    column = "rho_gradcam/ablationcam"
    low = t.images.loc[t.images[column].idxmin(), "key"] if t.n > 1 else ""
    if rho >= CLOSE_RHO:
        claim, tail = "Grad-CAM and AblationCAM give nearly the same maps.", "a small change here"
    elif rho >= SIMILAR_RHO:
        claim, tail = "Grad-CAM and AblationCAM give similar maps.", "which moves them in places"
    else:
        claim, tail = "Grad-CAM and AblationCAM give different maps.", "which changes them here"
    lowest = f", lowest on {text(pretty_key(low))}" if low else ""
    return Finding(
        claim,
        f"Mean Spearman ρ {num(rho)} over {t.n} images ({num(r['rho_min'])}–{num(r['rho_max'])}"
        f"{lowest}); IoU of the ≥ {HALF} regions {num(r['iou_mean'])} "
        f"{file_ref(t.where + '/pair_summary.csv')}.",
        "both weight the same activation maps, by the class score's mean gradient or by its "
        "drop when the map is zeroed; with an average-pool and linear head the drop is the "
        f"gradient weight × the channel's mean activation: strong channels count more, {tail}.",
    )


def _mistake(row: pd.Series) -> str:
    rank = row["true_rank"]
    where = "not in the top 5" if pd.isna(rank) else f"at rank {int(rank)}"
    return (
        f"{text(pretty_key(row['key']))} is taken for {text(row['top1_name'])} "
        f"({pct(row['top1_prob'])}; true class {where})"
    )


def misclassified(t: CamTables) -> Finding:
    """The misclassified images, whose maps explain the wrong class."""
    p = t.predictions
    known = p[p["true_id"].notna()]
    wrong = known[~known["correct"]]
    explains = (
        "the model's top-1 class"
        if (p["target_id"] == p["top1_id"]).all()
        else ("the class the run was told to explain")
    )
    reason = (
        f"each map explains {explains} (target_id): on a mistake, the evidence for the wrong "
        "class, not where the true class is."
    )
    if not len(known):
        return Finding("No image has a known class.", "(cam/predictions.csv)", reason)
    if not len(wrong):
        return Finding(
            f"All {len(known)} images are classified correctly, so every map explains the "
            "true class.",
            "(cam/predictions.csv)",
            reason,
        )
    return Finding(
        f"{len(wrong)} of {len(known)} images {'is' if len(wrong) == 1 else 'are'} "
        f"misclassified, and {'its' if len(wrong) == 1 else 'their'} maps explain the wrong "
        "class.",
        "; ".join(_mistake(r) for _, r in wrong.iterrows()) + " (cam/predictions.csv).",
        reason,
    )


def _cost(method: str, channels: Any, impl: str) -> str:
    spec = get_method(method)
    return f"{spec.title} {spec.cost_clause(channels, impl)}"


def timing(t: CamTables, device: str) -> Finding | None:
    """What each method costs, from the run's timings."""
    m = t.methods.dropna(subset=["seconds_mean"]).sort_values("seconds_mean")
    if len(m) < 2:
        return None
    slow, fast = m.index[-1], m.index[0]
    factor = m.loc[slow, "times_fastest"]
    per = ", ".join(f"{title(k)} {num(r['seconds_mean'], '.2f')} s" for k, r in m.iterrows())
    return Finding(
        f"{title(slow)} is the slowest, ×{num(factor, '.0f' if factor >= 10 else '.1f')} the "
        f"time of {title(fast)}.",
        f"Mean per image ({text(device)}, {text(t.impl)}): {per} "
        f"{file_ref(t.where + '/method_summary.csv')}.",
        ", ".join(_cost(k, t.summary.get("channels"), t.impl) for k in m.index) + ".",
    )


def choose(t: CamTables, device: str) -> list[Finding]:
    found = [
        resolution(t),
        scorecam(t),
        gradcam_ablationcam(t),
        misclassified(t),
        timing(t, device),
    ]
    return [f for f in found if f is not None]
