"""Agreement between one CAM and one LIME explanation of the same image.

Rows of ``agreement.csv`` (one per image x CAM method x measure):

==================  ====================================================================
measure             meaning
==================  ====================================================================
iou_threshold       IoU of ``CAM >= threshold`` with LIME's mask
dice_threshold      Dice of the same two masks
iou_area            IoU of the CAM's top pixels covering LIME's mask area with that mask
dice_area           Dice of the same (equals IoU_area's 2J/(1+J), kept for completeness)
iou_area_chance     IoU two random masks of that area would reach (the floor to beat)
iou_sweep_mean      mean IoU over the threshold sweep (a threshold-free summary)
pointing_game       1 if the CAM's peak lies inside LIME's mask, else 0
superpixel_rho      Spearman's rho between the CAM averaged over each LIME superpixel
                    and that superpixel's LIME weight (no threshold, no mask)
superpixel_p        its two-sided p-value
cam_area            fraction of the crop in ``CAM >= threshold``
lime_area           fraction of the crop in LIME's mask
==================  ====================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explainlab import masks
from explainlab.compare.inputs import LimeResult

MEASURES: tuple[str, ...] = (
    "iou_threshold",
    "dice_threshold",
    "iou_area",
    "dice_area",
    "iou_area_chance",
    "iou_sweep_mean",
    "pointing_game",
    "superpixel_rho",
    "superpixel_p",
    "cam_area",
    "lime_area",
)
# Measures that are fractions or probabilities: they must lie in [0, 1].
UNIT_MEASURES = frozenset(MEASURES) - {"superpixel_rho"}


@dataclass(frozen=True, eq=False)
class Agreement:
    key: str
    method: str
    values: dict[str, float]  # measure -> value
    sweep: np.ndarray  # IoU at each threshold of the sweep
    cam_mask: np.ndarray  # CAM >= threshold
    area_mask: np.ndarray  # CAM's top pixels, LIME's area

    def rows(self) -> list[dict]:
        return [
            {"key": self.key, "method": self.method, "measure": m, "value": self.values[m]}
            for m in MEASURES
        ]


def compare_maps(
    key: str,
    method: str,
    cam: np.ndarray,
    lime: LimeResult,
    *,
    threshold: float,
    sweep: Sequence[float],
    rng: np.random.Generator,
) -> Agreement:
    cam_mask = masks.threshold_mask(cam, threshold)
    area_mask = masks.area_matched_mask(cam, lime.mask, rng)
    lime_area = float(lime.mask.mean())
    iou_curve = masks.iou_sweep(cam, lime.mask, sweep)
    means = masks.segment_means(cam, lime.segments)
    ids = np.array(sorted(lime.weights))
    rho, p = masks.spearman(means[ids], [lime.weights[i] for i in ids])
    values = {
        "iou_threshold": masks.iou(cam_mask, lime.mask),
        "dice_threshold": masks.dice(cam_mask, lime.mask),
        "iou_area": masks.iou(area_mask, lime.mask),
        "dice_area": masks.dice(area_mask, lime.mask),
        "iou_area_chance": masks.chance_iou(lime_area, lime_area),
        "iou_sweep_mean": float(iou_curve.mean()),
        "pointing_game": masks.pointing_game(cam, lime.mask),
        "superpixel_rho": rho,
        "superpixel_p": p,
        "cam_area": float(cam_mask.mean()),
        "lime_area": lime_area,
    }
    return Agreement(key, method, values, iou_curve, cam_mask, area_mask)
