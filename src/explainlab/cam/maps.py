"""Channel weights -> the normalised map, step for step as pytorch-grad-cam's BaseCAM does it
(weighted sum over channels, ReLU, min-max + cv2 resize to the input size, then the
multi-layer aggregation's second min-max), so that equal weights give equal maps."""

from __future__ import annotations

import numpy as np
import torch
from pytorch_grad_cam.utils.image import scale_cam_image


def weighted_map(
    weights: np.ndarray, activations: torch.Tensor | np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """``weights`` (1, C) and ``activations`` (1, C, h, w) -> the (H, W) float32 map in
    [0, 1]; ``size`` is the input's (H, W)."""
    if isinstance(activations, torch.Tensor):
        activations = activations.detach().cpu().numpy()
    weights = np.asarray(weights, dtype=np.float32)
    cam = (weights[:, :, None, None] * activations).sum(axis=1)  # BaseCAM.get_cam_image
    cam = np.maximum(cam, 0)
    height, width = size
    scaled = scale_cam_image(cam, (width, height))  # compute_cam_per_layer
    merged = np.mean(np.maximum(scaled[:, None], 0), axis=1)  # aggregate_multi_layers
    return np.asarray(scale_cam_image(merged)[0], dtype=np.float32)
