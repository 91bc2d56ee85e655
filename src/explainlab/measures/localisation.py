"""Localisation of maps (N, H, W) against ground-truth regions (N, H, W) of booleans
(an object's mask, or a box: :func:`box_masks`), one value per map, NaN where a region
is empty: whether the map's peak falls inside (the pointing game, Zhang et al., 2018),
its share of energy inside (the energy-based pointing game, Wang et al., Score-CAM,
2020), and the share of its top k pixels inside (Theiner et al., 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explainlab.measures.batch import normalise_by_max
from explainlab.measures.registry import measure

TEST = "tests/test_measures_model.py::test_localisation_measures_equal_quantus"
UNIT = (0.0, 1.0)


def box_masks(boxes: Sequence[tuple[int, int, int, int]], height: int, width: int) -> np.ndarray:
    """(N, H, W) masks of boxes given as (top, left, bottom, right) pixels, bottom and
    right excluded."""
    masks = np.zeros((len(boxes), height, width), bool)
    for mask, (top, left, bottom, right) in zip(masks, boxes, strict=True):
        mask[top:bottom, left:right] = True
    return masks


def _flat(maps: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(maps)
    return np.asarray(maps, dtype=np.float64).reshape(n, -1), np.asarray(regions, bool).reshape(
        n, -1
    )


def _undefined_where_empty(values: np.ndarray, regions: np.ndarray) -> np.ndarray:
    return np.where(regions.any(axis=1), values, np.nan)


@measure(
    name="region_pointing_game",
    title="pointing game (region)",
    short="pointing",
    compares="map-region",
    direction="higher",
    range=UNIT,
    reference="quantus:PointingGame",
    test=TEST,
    image_format=".0f",
)
def region_pointing_game(maps: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """1 if a pixel where the map is largest lies in the region, else 0."""
    a, s = _flat(maps, regions)
    peaks = a == a.max(axis=1, keepdims=True)
    return _undefined_where_empty(np.float64((peaks & s).any(axis=1)), s)


@measure(
    name="energy_pointing_game",
    title="energy-based pointing game",
    short="energy",
    compares="map-region",
    direction="higher",
    range=UNIT,
    reference="quantus:AttributionLocalisation",
    test=TEST,
)
def energy_pointing_game(maps: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Share of the map's mass (absolute, normalised by its maximum) inside the region."""
    a, s = _flat(np.abs(normalise_by_max(maps)), regions)
    return _undefined_where_empty((a * s).sum(axis=1) / (a.sum(axis=1) + 1e-9), s)


@measure(
    name="topk_intersection",
    title="top-k intersection",
    short="top-k",
    compares="map-region",
    direction="higher",
    range=UNIT,
    reference="quantus:TopKIntersection",
    test=TEST,
)
def topk_intersection(maps: np.ndarray, regions: np.ndarray, *, k: int = 1000) -> np.ndarray:
    """Share of the map's ``k`` largest pixels that lie in the region (Quantus' default k;
    not an IoU: the region's size does not enter)."""
    a, s = _flat(maps, regions)
    top = np.argsort(-a, axis=1)[:, :k]
    return _undefined_where_empty(np.take_along_axis(s, top, axis=1).mean(axis=1), s)
