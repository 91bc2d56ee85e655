"""pytorch-grad-cam's own GradCAM, AblationCAM and ScoreCAM: the reference implementations.

Guards around the library: its ``__exit__`` swallows ``IndexError`` (so we never use
``with cam``), AblationCAM swaps the target layer out of the model while it runs, BaseCAM
leaves the model in eval mode and Grad-CAM leaves ``.grad`` on every parameter. We
release the hooks, put the layer back and restore the modes and gradients ourselves in
``finally`` blocks, whatever the method raises."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM
from pytorch_grad_cam.ablation_layer import AblationLayer, AblationLayerVit
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.find_layers import replace_layer_recursive
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from explainlab.cam.guards import model_kept
from explainlab.models.targets import Reshape


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


def _make(
    method: str, model: nn.Module, layer: nn.Module, batch_size: int, reshape: Reshape | None
) -> tuple[BaseCAM, contextlib.AbstractContextManager]:
    """The library's CAM object (its hooks are registered now) and the guard to restore
    what it changes in the model. ``reshape`` is the library's ``reshape_transform`` (a
    transformer's tokens to a map); AblationCAM then ablates the channels of the last
    dimension, as the library's ``AblationLayerVit`` does."""
    if method == "gradcam":
        return GradCAM(model, [layer], reshape_transform=reshape), contextlib.nullcontext()
    if method == "ablationcam":
        # a fresh one: the library's default argument is shared state
        stand_in = AblationLayerVit() if reshape is not None else AblationLayer()
        cam = AblationCAM(
            model,
            [layer],
            reshape_transform=reshape,
            ablation_layer=stand_in,
            batch_size=batch_size,
        )
        return cam, _layer_restored(model, layer, stand_in)
    if method == "scorecam":
        cam = ScoreCAM(model, [layer], reshape_transform=reshape)
        cam.batch_size = batch_size  # ScoreCAM reads this attribute when present
        return cam, contextlib.nullcontext()
    raise ValueError(f"unknown CAM method {method!r}")


def library_cam(
    method: str,
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    batch_size: int = 32,
    reshape: Reshape | None = None,
) -> np.ndarray:
    """The (H, W) float32 map in [0, 1] that pytorch-grad-cam computes for one image ``x`` (1, 3, H, W)."""
    targets = [ClassifierOutputTarget(int(target))]
    with model_kept(model):  # BaseCAM's constructor already switches the model to eval
        cam, restore = _make(method, model, layer, batch_size, reshape)
        with _released(cam), restore:
            maps = cam(input_tensor=x, targets=targets)
    return np.asarray(maps[0], dtype=np.float32)
