"""The findings of report 2, each chosen by a rule from the CAM tables of the run
(:mod:`explainlab.cam.summary` and ``predictions.csv``): the maps' resolution, how
ScoreCAM differs, Grad-CAM against AblationCAM, the misclassified images, the cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from explainlab.cam.figures import METHOD_TITLES
from explainlab.report.common import join_names, num, pct, pretty_key
from explainlab.report.findings import Finding, file_ref
from explainlab.report.pdf import text

COARSE_CELL_PX = 16  # a grid cell this many crop pixels wide or more: blobs, not outlines
CLOSE_RHO, SIMILAR_RHO = 0.8, 0.5  # mean Spearman rho: nearly the same maps / similar maps
CONSISTENT = 0.75  # a difference seen on at least this share of the images is consistent
FEW_IMAGES = 3  # fewer images than this support no statement about a method


@dataclass(frozen=True)
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
    return METHOD_TITLES.get(method, method)


def pair_title(row: pd.Series) -> str:
    return f"{title(row['method_a'])} / {title(row['method_b'])}"


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
        f"{crop[0]}×{crop[1]} crop: one cell is {num(cell, '.0f')} pixels wide; the regions at "
        f"or above half the maximum cover {spread} of the crop "
        f"{file_ref(t.where + '/summary.json, focus.csv')}."
    )
    if cell >= COARSE_CELL_PX:
        return Finding(
            f"The maps are blobs on a {size} grid, not outlines.",
            evidence,
            f"each map is a weighted sum of the layer's {size} activation maps, bilinearly "
            "upsampled: no edge finer than a cell, so a map marks a smooth region around the "
            "evidence and cannot follow an object's boundary.",
        )
    return Finding(
        f"The maps resolve detail down to about {num(cell, '.0f')} pixels.",
        evidence,
        f"each map is a weighted sum of the layer's {size} activation maps, upsampled: a "
        "fine grid lets it follow object parts, at the cost of noisier maps.",
    )


def _extent(t: CamTables, others: list[str]) -> tuple[str, str]:
    """ScoreCAM's extent against ``others``: (word, the reason's second half)."""
    sc, n = t.methods.loc["scorecam"], t.n
    rest = t.methods.loc[others, "focus_mean"]
    counts = (
        f"broadest on {sc['broadest_images']}, narrowest on {sc['narrowest_images']} of {n} images"
    )
    if (
        n >= FEW_IMAGES
        and sc["focus_mean"] > rest.max()
        and sc["broadest_images"] >= CONSISTENT * n
    ):
        return "broader", (
            f" A region that alone keeps the score up (the object, often its context) gets "
            f"weight even where the gradient is small, so the high region spreads ({counts})."
        )
    if (
        n >= FEW_IMAGES
        and sc["focus_mean"] < rest.min()
        and sc["narrowest_images"] >= CONSISTENT * n
    ):
        return "narrower", (
            " The softmax gives nearly all weight to the few channels whose masked image "
            f"scores highest, so the map shrinks to their regions ({counts})."
        )
    return "", (
        f" Here that does not change the extent of the maps in one direction ({counts}): "
        "the difference of the means is not a property of the method in this run."
    )


def scorecam(t: CamTables) -> Finding | None:
    """How ScoreCAM's maps differ from the gradient-based ones, and why."""
    if "scorecam" not in t.methods.index or len(t.methods) < 2:
        return None
    others = [m for m in t.methods.index if m != "scorecam"]
    word, why = _extent(t, others)
    with_sc = t.pairs[(t.pairs["method_a"] == "scorecam") | (t.pairs["method_b"] == "scorecam")]
    without = t.pairs.drop(with_sc.index)
    apart = len(without) and with_sc["rho_mean"].max() < without["rho_mean"].min()
    names = join_names([title(m) for m in others])
    claim = f"ScoreCAM's maps are {word} than {names}'s" if word else "ScoreCAM's maps differ"
    claim += ", and agree less with them than they agree with each other." if apart else "."
    extents = "; ".join(f"{title(m)} {pct(r['focus_mean'])}" for m, r in t.methods.iterrows())
    rhos = "; ".join(f"{pair_title(r)} {num(r['rho_mean'])}" for _, r in t.pairs.iterrows())
    return Finding(
        claim,
        f"Share of the crop at or above half the maximum, mean over the images: {extents}. "
        f"Mean Spearman ρ: {rhos} {file_ref(t.where + '/method_summary.csv, pair_summary.csv')}.",
        "ScoreCAM weights each channel by a softmax, over the channels, of the class score of "
        "the image masked by that channel's upsampled map: by what the region alone does to "
        "the output, not by a gradient." + why,
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
        claim, tail = "Grad-CAM and AblationCAM give nearly the same maps.", "little"
    elif rho >= SIMILAR_RHO:
        claim, tail = "Grad-CAM and AblationCAM give similar maps.", "in places"
    else:
        claim, tail = "Grad-CAM and AblationCAM give different maps.", "much"
    lowest = f", lowest on {text(pretty_key(low))}" if low else ""
    return Finding(
        claim,
        f"Mean Spearman ρ {num(rho)} over {t.n} images ({num(r['rho_min'])}–{num(r['rho_max'])}"
        f"{lowest}), IoU of the ≥ 0.5 regions {num(r['iou_mean'])}, peaks a median "
        f"{num(r['peak_median'], '.0f')} pixels apart {file_ref(t.where + '/pair_summary.csv')}.",
        "both weight the same activation maps: Grad-CAM by the class score's mean gradient over "
        "each, AblationCAM by the drop in the score when it is zeroed. Behind a head of average "
        "pooling and one linear layer (ResNet50's, EfficientNet-Lite0's) that drop is the "
        "gradient weight times the channel's mean activation, so AblationCAM favours strongly "
        f"active channels; here that changes the maps {tail}.",
    )


def _mistake(row: pd.Series) -> str:
    rank = row["true_rank"]
    where = "not in the top 5" if pd.isna(rank) else f"ranked {int(rank)}"
    return (
        f"{text(pretty_key(row['key']))} is taken for {text(row['top1_name'])} "
        f"({pct(row['top1_prob'])}; the true class {where})"
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
        f"every map is computed for {explains} (target_id, cam/predictions.csv), so on a "
        "mistake it shows where the evidence for the wrong class lies: what to inspect to see "
        "why the model erred, not where the true class is."
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
        f"{len(wrong)} of {len(known)} images are misclassified, and their maps explain the "
        "wrong class.",
        "; ".join(_mistake(r) for _, r in wrong.iterrows()) + " (cam/predictions.csv).",
        reason,
    )


def _cost(method: str, channels: Any, impl: str) -> str:
    c = f"{channels} channels" if channels else "the layer's channels"
    if method == "gradcam":
        return "Grad-CAM needs one forward and one backward pass"
    if method == "ablationcam":
        if impl == "fast":
            return f"AblationCAM one pass of the layers after the target per channel ({c}, batched)"
        return f"AblationCAM one forward pass of the network per ablated channel ({c}, batched)"
    return f"ScoreCAM one forward pass of the whole network per channel ({c} masked images)"


def timing(t: CamTables, device: str) -> Finding | None:
    """What each method costs, from the run's timings."""
    if len(t.methods) < 2:
        return None
    m = t.methods.sort_values("seconds_mean")
    slow, fast = m.index[-1], m.index[0]
    factor = m.loc[slow, "times_fastest"]
    per = "; ".join(f"{title(k)} {num(r['seconds_mean'], '.2f')} s" for k, r in m.iterrows())
    return Finding(
        f"{title(slow)} is the slowest method, ×{num(factor, '.0f' if factor >= 10 else '.1f')} "
        f"the time of {title(fast)}.",
        f"Mean seconds per image on the run's {text(device)}, {text(t.impl)} implementation: "
        f"{per} {file_ref(t.where + '/method_summary.csv')}.",
        "; ".join(_cost(k, t.summary.get("channels"), t.impl) for k in m.index) + ".",
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
