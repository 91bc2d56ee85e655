"""One entry point for every CAM method and implementation."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from explainlab.cam.fast import fast_ablationcam, fast_gradcam, fast_scorecam
from explainlab.cam.library import library_cam
from explainlab.cam.settings import IMPLS, METHODS


def compute_cam(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    impl: str = "fast",
    batch_size: int = 32,
    scorecam_bf16: bool = False,
) -> np.ndarray:
    """The normalised (H, W) float32 map in [0, 1] of ``method`` for one image ``x`` (1, 3, H, W).

    ``impl="fast"`` uses our exact fast variants where they exist (same maps as the
    library within 1e-4); ``impl="library"`` always uses pytorch-grad-cam.
    ``scorecam_bf16`` (fast ScoreCAM only) trades exactness for speed; off by default."""
    if method not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; known: {', '.join(METHODS)}")
    if impl not in IMPLS:
        raise ValueError(f"unknown CAM implementation {impl!r}; known: {', '.join(IMPLS)}")
    if scorecam_bf16 and impl != "fast":
        raise ValueError("scorecam_bf16 applies to the fast ScoreCAM only, not impl 'library'")
    if impl == "library":
        return library_cam(method, model, layer, x, target, batch_size=batch_size)
    if method == "gradcam":
        return fast_gradcam(model, layer, x, target)
    if method == "ablationcam":
        return fast_ablationcam(model, layer, x, target, batch_size=batch_size)
    return fast_scorecam(model, layer, x, target, batch_size=batch_size, bf16=scorecam_bf16)
