"""Agreement between two maps of the same image, whichever methods made them (LIME's
weight map among them): one function per measure, each taking a :class:`MapPair`. Every
measure is symmetric in the two maps.

Each map is binarised by :mod:`explainlab.masks`' conventions, once per image (so that a
map's masks are the same in every pair it is in): ``map >= threshold`` of the min-max
normalised map, and its top pixels covering a fixed share of the crop (exactly that many,
ties broken at random: two maps of one method's zero floor do not agree by raster order)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats

from explainlab import masks
from explainlab.measures.registry import measure


@dataclass(frozen=True, eq=False, kw_only=True)
class MapView:
    """One map and its two masks, as every pair it is in sees them."""

    map: np.ndarray  # (H, W) in [0, 1]
    threshold_mask: np.ndarray  # map >= threshold (normalised)
    top_mask: np.ndarray  # its top pixels covering ``top`` of the crop
    top: float  # the share of the crop in ``top_mask``

    @classmethod
    def of(
        cls, saliency: np.ndarray, *, threshold: float, top: float, rng: np.random.Generator
    ) -> MapView:
        saliency = np.asarray(saliency, dtype=np.float64)
        count = round(top * saliency.size)
        return cls(
            map=saliency,
            threshold_mask=masks.threshold_mask(saliency, threshold),
            top_mask=masks.top_mask(saliency, count, rng),
            top=top,
        )

    @cached_property
    def ranks(self) -> np.ndarray | None:
        """The pixels' ranks (ties averaged, as Spearman's rho takes them); None for a
        constant map, which ranks nothing."""
        flat = self.map.ravel()
        return None if np.ptp(flat) == 0 else stats.rankdata(flat)


@dataclass(frozen=True, eq=False)
class MapPair:
    """What a pair measure sees: the two maps' views."""

    a: MapView
    b: MapView


UNIT = (0.0, 1.0)
TESTS = "tests/test_pair_measures.py"


@measure(
    name="pair_iou_threshold",
    title="IoU of the two maps at the fixed threshold",
    label="IoU (≥ {threshold:g})",
    short="IoU thr",
    compares="pair",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:jaccard_score",
    test=f"{TESTS}::test_masks_measures_equal_scikit_learn",
)
def pair_iou_threshold(pair: MapPair) -> float:
    """IoU of the two maps' ``>= threshold`` regions."""
    return masks.iou(pair.a.threshold_mask, pair.b.threshold_mask)


@measure(
    name="pair_dice_threshold",
    title="Dice of the two maps at the fixed threshold",
    label="Dice (≥ {threshold:g})",
    short="Dice thr",
    compares="pair",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:f1_score",
    test=f"{TESTS}::test_masks_measures_equal_scikit_learn",
    tables="mean",
)
def pair_dice_threshold(pair: MapPair) -> float:
    """Dice of the two maps' ``>= threshold`` regions."""
    return masks.dice(pair.a.threshold_mask, pair.b.threshold_mask)


@measure(
    name="pair_iou_top",
    title="area-matched IoU of the two maps",
    label="IoU (top area)",
    short="IoU top",
    compares="pair",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:jaccard_score",
    test=f"{TESTS}::test_masks_measures_equal_scikit_learn",
    chance="pair_iou_top_chance",
)
def pair_iou_top(pair: MapPair) -> float:
    """IoU of the two maps' top pixels, each covering the same share of the crop (no
    threshold to choose)."""
    return masks.iou(pair.a.top_mask, pair.b.top_mask)


@measure(
    name="pair_iou_top_chance",
    title="chance IoU of two top-area masks",
    label="chance IoU",
    short="chance",
    compares="pair",
    direction="neither",
    range=UNIT,
    reference="ours",
    test=f"{TESTS}::test_identical_maps_agree_fully_and_disjoint_ones_not_at_all",
)
def pair_iou_top_chance(pair: MapPair) -> float:
    """IoU two random masks of that share would reach (the floor to beat)."""
    return masks.chance_iou(pair.a.top, pair.b.top)


@measure(
    name="pair_rho",
    title="pixel rank correlation of the two maps",
    label="ρ pixels",
    short="rho px",
    compares="pair",
    direction="higher",
    range=(-1.0, 1.0),
    reference="scipy.stats:spearmanr",
    test=f"{TESTS}::test_pixel_rho_is_scipys_spearman",
    text_format="+.2f",
)
def pair_rho(pair: MapPair) -> float:
    """Spearman's rho of the two maps' pixels (no threshold, no mask; NaN where a map is
    constant and ranks nothing)."""
    x, y = pair.a.ranks, pair.b.ranks
    if x is None or y is None:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])  # Spearman's rho: Pearson's r of the ranks
