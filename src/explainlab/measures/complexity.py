"""Complexity of a map alone (N, H, W), one value per map: how concentrated it is (the
Gini index, Chalasani et al., 2020) and how spread out (the entropy of its share per
pixel, Bhatt et al., 2020). Each map is first normalised by its largest absolute value
and taken absolute, as Quantus does by default."""

from __future__ import annotations

import numpy as np

from explainlab.measures.batch import normalise_by_max
from explainlab.measures.registry import measure

TEST = "tests/test_measures_model.py::test_complexity_measures_equal_quantus"


def _flat(maps: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps)
    return np.abs(normalise_by_max(maps)).reshape(len(maps), -1)


@measure(
    name="sparseness",
    title="sparseness (Gini)",
    short="gini",
    compares="map-only",
    direction="higher",
    range=(0.0, 1.0),
    reference="quantus:Sparseness",
    test=TEST,
)
def sparseness(maps: np.ndarray) -> np.ndarray:
    """Gini index of the map's values: 1 when one pixel holds everything, 0 when all are
    equal."""
    a = np.sort(_flat(maps) + 1e-7, axis=1)  # Quantus' offset: a zero map is defined
    n = a.shape[1]
    ranks = np.arange(1, n + 1)
    return ((2 * ranks - n - 1) * a).sum(axis=1) / (n * a.sum(axis=1))


@measure(
    name="complexity",
    title="complexity (entropy)",
    short="entropy",
    compares="map-only",
    direction="lower",
    range=(0.0, float("inf")),
    reference="quantus:Complexity",
    test=TEST,
)
def complexity(maps: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the map's share per pixel: at most log(H x W), for a flat map."""
    a = _flat(maps)
    share = a / a.sum(axis=1, keepdims=True)
    return -(share * np.log(share + 1e-12)).sum(axis=1)
