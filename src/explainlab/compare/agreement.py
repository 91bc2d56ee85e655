"""Agreement between one CAM and one LIME explanation of the same image: every agreement
measure of the registry (:mod:`explainlab.measures.agreement` says what each one is).

Rows of ``agreement.csv``: one per image x CAM method x measure, in the registry's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explainlab.compare.inputs import LimeResult
from explainlab.measures import measures
from explainlab.measures.agreement import MapMask


@dataclass(frozen=True, eq=False, kw_only=True)
class Agreement:
    key: str
    method: str
    values: dict[str, float]  # measure -> value, in the registry's order
    sweep: np.ndarray  # IoU at each threshold of the sweep
    cam_mask: np.ndarray  # CAM >= threshold
    area_mask: np.ndarray  # CAM's top pixels, LIME's area

    def rows(self) -> list[dict]:
        return [
            {"key": self.key, "method": self.method, "measure": m, "value": v}
            for m, v in self.values.items()
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
    pair = MapMask.of(cam, lime, threshold=threshold, sweep=sweep, rng=rng)
    values = {spec.name: spec.compute(pair) for spec in measures("map-mask")}
    return Agreement(
        key=key,
        method=method,
        values=values,
        sweep=pair.iou_curve,
        cam_mask=pair.cam_mask,
        area_mask=pair.area_mask,
    )
