"""Similarity of a map to the same method's map of the model with its top blocks
re-initialised (Adebayo et al., "Sanity checks for saliency maps", 2018): one function
per measure, each taking (original map, map of the randomised model). A map that depends
on what the model learned must change, so lower is better."""

from __future__ import annotations

import numpy as np

from explainlab import masks
from explainlab.measures.registry import measure


@measure(
    name="spearman",
    title="Spearman rank correlation",
    label="ρ",
    short="rho",
    compares="sanity",
    direction="lower",
    range=(-1.0, 1.0),
    reference="scipy.stats:spearmanr",
    test="tests/test_masks.py::test_spearman_matches_scipy_and_handles_constant_input",
    text_format="+.2f",
    plot_floor=-0.2,
)
def spearman(original: np.ndarray, other: np.ndarray) -> float:
    """Spearman's rho of the raw maps (a constant map carries no ranking: its rho with
    anything is taken as 0)."""
    rho, _ = masks.spearman(original, other)
    return 0.0 if np.isnan(rho) else rho


@measure(
    name="ssim",
    title="SSIM",
    compares="sanity",
    direction="lower",
    range=(-1.0, 1.0),
    reference="skimage.metrics:structural_similarity",
    test="tests/test_measures.py::test_ssim_is_scikit_images_on_normalised_maps",
    plot_floor=0.0,
)
def ssim(original: np.ndarray, other: np.ndarray) -> float:
    """SSIM of the min-max normalised maps, as in the paper."""
    from skimage.metrics import structural_similarity  # a stage library: loaded when used

    a, b = masks.normalise(original), masks.normalise(other)
    return float(structural_similarity(a, b, data_range=1.0))
