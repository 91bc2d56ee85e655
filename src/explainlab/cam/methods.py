"""One entry point for every CAM method and implementation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explainlab.cam.fast import fast_ablationcam, fast_gradcam, fast_scorecam
from explainlab.cam.library import library_cam
from explainlab.cam.settings import IMPLS, METHODS
from explainlab.models.targets import Reshape

TOKENS_NOTE = (
    "pytorch-grad-cam's with its reshape_transform: the fast variants split (N, C, H, W) maps only"
)


@dataclass(frozen=True)
class CamMap:
    map: np.ndarray  # (H, W) float32 in [0, 1]
    impl: str  # what computed it: "fast" or "library"
    note: str = ""  # why the fast variant did not run (or ran the whole model)


def cam_map(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    impl: str = "fast",
    batch_size: int = 32,
    scorecam_bf16: bool = False,
    reshape: Reshape | None = None,
) -> CamMap:
    """The normalised (H, W) float32 map in [0, 1] of ``method`` for one image ``x`` (1, 3, H, W).

    ``impl="fast"`` uses our exact fast variants where they apply (same maps as the
    library within 1e-4) and pytorch-grad-cam's where they do not, saying why in the
    note; ``impl="library"`` always uses pytorch-grad-cam. ``reshape`` turns a
    transformer's tokens into a map (see :mod:`explainlab.models.targets`).
    ``scorecam_bf16`` (fast ScoreCAM only) trades exactness for speed; off by default."""
    if method not in METHODS:
        raise ValueError(f"unknown CAM method {method!r}; known: {', '.join(METHODS)}")
    if impl not in IMPLS:
        raise ValueError(f"unknown CAM implementation {impl!r}; known: {', '.join(IMPLS)}")
    if scorecam_bf16 and impl != "fast":
        raise ValueError("scorecam_bf16 applies to the fast ScoreCAM only, not impl 'library'")
    if impl == "library" or reshape is not None:
        saliency = library_cam(
            method, model, layer, x, target, batch_size=batch_size, reshape=reshape
        )
        return CamMap(saliency, "library", TOKENS_NOTE if impl == "fast" else "")
    notes: list[str] = []
    if method == "gradcam":
        saliency = fast_gradcam(model, layer, x, target, notes=notes)
    elif method == "ablationcam":
        saliency = fast_ablationcam(model, layer, x, target, batch_size=batch_size, notes=notes)
    else:
        saliency = fast_scorecam(model, layer, x, target, batch_size=batch_size, bf16=scorecam_bf16)
    used = "library" if any(n.startswith("library:") for n in notes) else "fast"
    return CamMap(saliency, used, "; ".join(n.removeprefix("library: ") for n in notes))


def compute_cam(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    **options,
) -> np.ndarray:
    """:func:`cam_map`'s map alone."""
    return cam_map(method, model, layer, x, target, **options).map
