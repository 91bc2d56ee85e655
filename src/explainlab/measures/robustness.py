"""Robustness of a method: how much its map changes when the input barely does
(max-sensitivity, Yeh et al., 2019), over a :class:`ModelBatch` whose ``explain`` re-runs
the method; one value per image."""

from __future__ import annotations

import numpy as np

from explainlab.measures.batch import ModelBatch
from explainlab.measures.registry import measure


def sensitivity_noise(batch: ModelBatch, samples: int, radius: float):
    """The (N * samples, 3, H, W) uniform perturbations in [-radius, radius], image by image
    (captum's order: each image repeated ``samples`` times)."""
    import torch

    generator = torch.Generator().manual_seed(batch.seed)
    shape = (len(batch.inputs) * samples, *batch.inputs.shape[1:])
    noise = torch.rand(shape, generator=generator, dtype=batch.inputs.dtype)
    return ((2 * noise - 1) * radius).to(batch.inputs.device)


@measure(
    name="max_sensitivity",
    title="max-sensitivity",
    short="max sens",
    compares="explainer",
    direction="lower",
    range=(0.0, float("inf")),
    reference="captum.metrics:sensitivity_max",
    test="tests/test_measures_model.py::test_max_sensitivity_equals_captum",
)
def max_sensitivity(batch: ModelBatch, *, samples: int = 10, radius: float = 0.02) -> np.ndarray:
    """Largest Frobenius norm of the change in the map over ``samples`` uniform
    perturbations of the input within ``radius``, relative to the map's norm (captum's
    ``sensitivity_max``; a zero map's norm is taken as 1)."""
    explain = batch.explained()
    n = len(batch.inputs)
    perturbed = batch.inputs.repeat_interleave(samples, dim=0) + sensitivity_noise(
        batch, samples, radius
    )
    maps = np.asarray(explain(batch.model, perturbed, np.repeat(batch.targets, samples)))
    original = np.asarray(batch.maps, dtype=np.float64).reshape(n, -1)
    changes = maps.reshape(n, samples, -1) - original[:, None]
    norms = np.linalg.norm(original, axis=1)
    return (np.linalg.norm(changes, axis=2) / np.where(norms == 0, 1.0, norms)[:, None]).max(1)
