"""The superpixels lime segments a crop into, without running LIME: what other methods
that work on LIME's features (KernelSHAP) take, so that they see the same ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from lime.wrappers.scikit_image import SegmentationAlgorithm


def lime_segments(crop: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """(H, W) int32 superpixel ids of ``crop`` as lime 0.2.0.1's ``explain_instance``
    makes them with ``params`` (object form, e.g. ``ParamFile.params_for``): their
    ``segmentation_fn``, else lime's default, quickshift (4, 200, 0.2) seeded with their
    ``random_seed``."""
    segment = params.get("segmentation_fn") or SegmentationAlgorithm(
        "quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=params.get("random_seed")
    )
    return np.asarray(segment(crop)).astype(np.int32)
