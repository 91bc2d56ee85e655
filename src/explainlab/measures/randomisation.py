"""Randomisation of the explained class (random-logit, Sixt et al., 2020): the map of
another class than the explained one should differ. Over a :class:`ModelBatch` whose
``explain`` re-runs the method; one value per image. (The model-parameter randomisation
is the sanity family, :mod:`explainlab.measures.sanity`.)"""

from __future__ import annotations

import numpy as np

from explainlab.measures.batch import ModelBatch, normalise_by_max
from explainlab.measures.registry import measure


def other_classes(targets: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """One class per image drawn uniformly from the classes other than its target (as
    the index among those classes, then shifted past the target)."""
    index = np.random.default_rng(seed).integers(0, num_classes - 1, len(targets))
    return index + (index >= np.asarray(targets))


def ssim_1d(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two maps flattened to one row, over the range of both (Quantus' ``ssim``)."""
    from skimage.metrics import structural_similarity

    a, b = a.ravel(), b.ravel()
    both = np.concatenate([a, b])
    return float(structural_similarity(a, b, data_range=float(both.max() - both.min())))


@measure(
    name="random_logit",
    title="random-logit similarity",
    short="rand logit",
    compares="explainer",
    direction="lower",
    range=(-1.0, 1.0),
    reference="quantus:RandomLogit",
    test="tests/test_measures_model.py::test_random_logit_equals_quantus",
)
def random_logit(batch: ModelBatch, *, num_classes: int | None = None) -> np.ndarray:
    """SSIM between the map and the method's map of a random other class (each normalised
    by its largest absolute value, flattened): a map that explains the class is unlike the
    map of another. ``num_classes``: the model's output size unless given."""
    import torch

    if num_classes is None:
        with torch.no_grad():
            num_classes = batch.model(batch.inputs[:1]).shape[1]
    others = other_classes(batch.targets, num_classes, batch.seed)
    maps = normalise_by_max(batch.maps)
    off = normalise_by_max(np.asarray(batch.explained()(batch.model, batch.inputs, others)))
    return np.array([ssim_1d(a, b) for a, b in zip(maps, off, strict=True)])
