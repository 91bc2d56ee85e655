"""The resolution a CAM map is made at, and the IoU that resolution allows.

A CAM is computed on the target layer's h x w grid (7 x 7 for a ResNet50 or an
EfficientNet at 224 pixels) and upsampled bilinearly to the crop, so its top pixels form
smooth blobs that cannot follow the edges of LIME's superpixels. :func:`ceiling_iou`
measures what that costs: LIME's own mask, averaged onto the grid and upsampled the
same way, area-matched against itself. No map made on that grid can be expected to do
better than its own mask seen through the grid; what lies between the ceiling and the
observed IoU is disagreement about where the evidence is, not resolution."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from explainlab import masks
from explainlab.models import LoadedModel


def cam_grid(model: LoadedModel, layer: str | None = None) -> tuple[int, int]:
    """(h, w) of the CAM target layer's map for one crop of the model's geometry."""
    target = model.cam_target(layer)
    shapes: list[tuple[int, ...]] = []

    def hook(_module, _inputs, out) -> None:
        if isinstance(out, torch.Tensor):
            shapes.append(tuple(out.shape))

    size = model.geometry.crop
    handle = target.layer.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            model.module(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        handle.remove()
    out = torch.zeros(shapes[-1])
    if target.reshape is not None:
        out = target.reshape(out)
    return int(out.shape[-2]), int(out.shape[-1])


def through_grid(mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """``mask`` averaged onto ``grid`` cells and upsampled bilinearly back to its size."""
    x = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    coarse = F.adaptive_avg_pool2d(x, grid)
    fine = F.interpolate(coarse, size=mask.shape, mode="bilinear", align_corners=False)
    return fine[0, 0].numpy().astype(np.float64)


def ceiling_iou(mask: np.ndarray, grid: tuple[int, int], rng: np.random.Generator) -> float:
    """The area-matched IoU of ``mask`` with itself seen through ``grid``: the best a map
    made at that resolution can be expected to reach against it."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return float("nan")
    return masks.iou(masks.area_matched_mask(through_grid(mask, grid), mask, rng), mask)
