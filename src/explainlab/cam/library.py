"""pytorch-grad-cam's own GradCAM, AblationCAM and ScoreCAM: the reference implementations.

Two guards around the library: its ``__exit__`` swallows ``IndexError`` and AblationCAM
swaps the target layer out of the model while it runs, so we release hooks and put the
layer back ourselves in ``finally`` blocks, whatever the method raises."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM
from pytorch_grad_cam.ablation_layer import AblationLayer
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.find_layers import replace_layer_recursive
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn


@contextlib.contextmanager
def _released(cam: BaseCAM) -> Iterator[BaseCAM]:
    try:
        yield cam
    finally:
        cam.activations_and_grads.release()


@contextlib.contextmanager
def _layer_restored(model: nn.Module, layer: nn.Module, stand_in: nn.Module) -> Iterator[None]:
    try:
        yield
    finally:
        if not any(m is layer for m in model.modules()):
            replace_layer_recursive(model, stand_in, layer)


def library_cam(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    batch_size: int = 32,
) -> np.ndarray:
    """The (H, W) float32 map in [0, 1] that pytorch-grad-cam computes for one image ``x`` (1, 3, H, W)."""
    targets = [ClassifierOutputTarget(int(target))]
    if method == "gradcam":
        cam: BaseCAM = GradCAM(model, [layer])
        restore: contextlib.AbstractContextManager = contextlib.nullcontext()
    elif method == "ablationcam":
        stand_in = AblationLayer()  # a fresh one: the library's default argument is shared state
        cam = AblationCAM(model, [layer], ablation_layer=stand_in, batch_size=batch_size)
        restore = _layer_restored(model, layer, stand_in)
    elif method == "scorecam":
        cam = ScoreCAM(model, [layer])
        cam.batch_size = batch_size  # ScoreCAM reads this attribute when present
        restore = contextlib.nullcontext()
    else:
        raise ValueError(f"unknown CAM method {method!r}")
    with _released(cam), restore:
        maps = cam(input_tensor=x, targets=targets)
    return np.asarray(maps[0], dtype=np.float32)
