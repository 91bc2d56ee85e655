"""Agreement between a CAM map and LIME's explanation of the same image: one function per
measure, each taking a :class:`MapMask`. A CAM is binarised by :mod:`explainlab.masks`'
conventions (min-max normalised, ``map >= threshold``; the area-matched mask is the CAM's
top pixels covering LIME's mask area, ties broken at random)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from explainlab import masks
from explainlab.measures.registry import measure


class LimeExplanation(Protocol):
    segments: np.ndarray  # superpixel id per pixel
    weights: Mapping[int, float]  # superpixel id -> LIME weight
    mask: np.ndarray  # LIME's mask: its top positive superpixels


@dataclass(frozen=True, eq=False, kw_only=True)
class MapMask:
    """What an agreement measure sees: the CAM, LIME's explanation, and the CAM's masks."""

    cam: np.ndarray
    lime: LimeExplanation
    threshold: float
    sweep: Sequence[float]  # the thresholds of the IoU sweep
    cam_mask: np.ndarray  # CAM >= threshold
    area_mask: np.ndarray  # the CAM's top pixels, covering LIME's mask area

    @classmethod
    def of(
        cls,
        cam: np.ndarray,
        lime: LimeExplanation,
        *,
        threshold: float,
        sweep: Sequence[float],
        rng: np.random.Generator,
    ) -> MapMask:
        return cls(
            cam=cam,
            lime=lime,
            threshold=threshold,
            sweep=sweep,
            cam_mask=masks.threshold_mask(cam, threshold),
            area_mask=masks.area_matched_mask(cam, lime.mask, rng),
        )

    @cached_property
    def iou_curve(self) -> np.ndarray:
        """IoU at each threshold of the sweep."""
        return masks.iou_sweep(self.cam, self.lime.mask, self.sweep)

    @cached_property
    def superpixel_spearman(self) -> tuple[float, float]:
        """Spearman's rho and p between the CAM's mean over each weighted superpixel and
        that superpixel's weight."""
        means = masks.segment_means(self.cam, self.lime.segments)
        ids = np.array(sorted(self.lime.weights))
        return masks.spearman(means[ids], [self.lime.weights[i] for i in ids])


UNIT = (0.0, 1.0)
MASKS_TEST = "tests/test_masks.py::test_iou_and_dice_equal_scikit_learn_on_random_masks"


@measure(
    name="iou_threshold",
    title="IoU at the fixed threshold",
    label="IoU (≥ {threshold:g})",
    short="IoU thr",
    compares="map-mask",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:jaccard_score",
    test=MASKS_TEST,
)
def iou_threshold(pair: MapMask) -> float:
    """IoU of ``CAM >= threshold`` with LIME's mask."""
    return masks.iou(pair.cam_mask, pair.lime.mask)


@measure(
    name="dice_threshold",
    title="Dice at the fixed threshold",
    compares="map-mask",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:f1_score",
    test=MASKS_TEST,
    tables="none",
)
def dice_threshold(pair: MapMask) -> float:
    """Dice of ``CAM >= threshold`` with LIME's mask."""
    return masks.dice(pair.cam_mask, pair.lime.mask)


@measure(
    name="iou_area",
    title="area-matched IoU",
    label="IoU (area)",
    short="IoU area",
    compares="map-mask",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:jaccard_score",
    test=MASKS_TEST,
    chance="iou_area_chance",
)
def iou_area(pair: MapMask) -> float:
    """IoU of the CAM's top pixels covering LIME's mask area with that mask."""
    return masks.iou(pair.area_mask, pair.lime.mask)


@measure(
    name="dice_area",
    title="area-matched Dice",
    label="Dice (area)",
    short="Dice area",
    text_width=9,
    compares="map-mask",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:f1_score",
    test=MASKS_TEST,
    tables="mean",  # 2J/(1+J) of iou_area: one more column per image would say nothing new
)
def dice_area(pair: MapMask) -> float:
    """Dice of the same (equals IoU_area's 2J/(1+J), kept for completeness)."""
    return masks.dice(pair.area_mask, pair.lime.mask)


@measure(
    name="iou_area_chance",
    title="chance IoU",
    label="chance IoU",
    short="chance",
    compares="map-mask",
    direction="neither",
    range=UNIT,
    reference="ours",
    test="tests/test_masks.py::test_pointing_game_and_chance_level",
)
def iou_area_chance(pair: MapMask) -> float:
    """IoU two random masks of that area would reach (the floor to beat)."""
    area = float(pair.lime.mask.mean())
    return masks.chance_iou(area, area)


@measure(
    name="iou_sweep_mean",
    title="mean IoU over the threshold sweep",
    compares="map-mask",
    direction="higher",
    range=UNIT,
    reference="sklearn.metrics:jaccard_score",
    test="tests/test_masks.py::test_sweep_endpoints",
    tables="none",
)
def iou_sweep_mean(pair: MapMask) -> float:
    """Mean IoU over the threshold sweep (a threshold-free summary)."""
    return float(pair.iou_curve.mean())


@measure(
    name="pointing_game",
    title="pointing game",
    label="pointing",
    text_width=8,
    compares="map-mask",
    direction="higher",
    range=UNIT,
    reference="ours",
    test="tests/test_masks.py::test_pointing_game_and_chance_level",
    width_cm=2.0,
    image_format=".0f",
)
def pointing_game(pair: MapMask) -> float:
    """1 if the CAM's peak lies inside LIME's mask, else 0."""
    return masks.pointing_game(pair.cam, pair.lime.mask)


@measure(
    name="superpixel_rho",
    title="superpixel rank correlation",
    label="ρ superpixels",
    short="rho spx",
    compares="map-mask",
    direction="higher",
    range=(-1.0, 1.0),
    reference="scipy.stats:spearmanr",
    test="tests/test_masks.py::test_spearman_matches_scipy_and_handles_constant_input",
    width_cm=2.6,
)
def superpixel_rho(pair: MapMask) -> float:
    """Spearman's rho between the CAM averaged over each LIME superpixel and that
    superpixel's LIME weight (no threshold, no mask)."""
    return pair.superpixel_spearman[0]


@measure(
    name="superpixel_p",
    title="p of the superpixel rank correlation",
    compares="map-mask",
    direction="neither",
    range=UNIT,
    reference="scipy.stats:spearmanr",
    test="tests/test_masks.py::test_spearman_matches_scipy_and_handles_constant_input",
    tables="none",
)
def superpixel_p(pair: MapMask) -> float:
    """Its two-sided p-value."""
    return pair.superpixel_spearman[1]


@measure(
    name="cam_area",
    title="CAM area",
    compares="map-mask",
    direction="neither",
    range=UNIT,
    reference="ours",
    test="tests/test_measures.py::test_areas_known_values",
    tables="none",
)
def cam_area(pair: MapMask) -> float:
    """Fraction of the crop in ``CAM >= threshold``."""
    return float(pair.cam_mask.mean())


@measure(
    name="lime_area",
    title="LIME area",
    compares="map-mask",
    direction="neither",
    range=UNIT,
    reference="ours",
    test="tests/test_measures.py::test_areas_known_values",
    tables="none",
)
def lime_area(pair: MapMask) -> float:
    """Fraction of the crop in LIME's mask."""
    return float(pair.lime.mask.mean())
