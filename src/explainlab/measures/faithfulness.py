"""Faithfulness of one map against the model (Petsiuk et al., RISE, 2018): one function
per measure, each taking the map's curves by kind (``"deletion"``, ``"insertion"``: the
probability of the explained class as pixels are removed from the image, or revealed on
a substrate, in the map's order; :mod:`explainlab.compare.faithfulness` computes them,
and a random order of patches is the baseline every measure is compared with)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from explainlab.measures.registry import measure

# pytorch-grad-cam's PerturbationConfidenceMetric gives the same probabilities at its
# fractions on a map without ties (see compare/faithfulness.py for why not the library).
CURVE_TEST = (
    "tests/test_compare_faithfulness.py::test_same_probabilities_as_pytorch_grad_cam_metric"
)
CURVE_REFERENCE = "pytorch_grad_cam.metrics.perturbation_confidence:PerturbationConfidenceMetric"


class Curve(Protocol):
    fractions: np.ndarray  # share of pixels deleted / inserted, 0..1
    probs: np.ndarray  # probability of the explained class at each fraction


def auc(fractions: np.ndarray, probs: np.ndarray) -> float:
    """Area under the curve by the trapezoid rule (fractions span 0..1, so it lies in [0, 1])."""
    return float(np.trapezoid(probs, fractions))


@measure(
    name="deletion_auc",
    title="deletion AUC",
    short="deletion",
    compares="map",
    direction="lower",
    range=(0.0, 1.0),
    reference=CURVE_REFERENCE,
    test=CURVE_TEST,
)
def deletion_auc(curves: Mapping[str, Curve]) -> float:
    """Area under the deletion curve: a faithful map makes the probability fall fast."""
    return auc(curves["deletion"].fractions, curves["deletion"].probs)


@measure(
    name="insertion_auc",
    title="insertion AUC",
    short="insertion",
    compares="map",
    direction="higher",
    range=(0.0, 1.0),
    reference=CURVE_REFERENCE,
    test=CURVE_TEST,
)
def insertion_auc(curves: Mapping[str, Curve]) -> float:
    """Area under the insertion curve: a faithful map makes the probability rise fast."""
    return auc(curves["insertion"].fractions, curves["insertion"].probs)
