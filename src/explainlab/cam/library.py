"""pytorch-grad-cam's own CAM classes: the reference implementations (each method's
``reference`` in :mod:`explainlab.methods`, built by its ``build``).

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
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.find_layers import replace_layer_recursive
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from explainlab.cam.guards import model_kept
from explainlab.methods import MethodSpec, get_method
from explainlab.models.targets import Reshape


@contextlib.contextmanager
def _released(cam: BaseCAM) -> Iterator[BaseCAM]:
    try:
        yield cam
    finally:
        hooks = cam.activations_and_grads
        # Its release detaches them in place, which fails on views (ShapleyCAM's of a
        # transformer's tokens); letting go of them frees the graph just as well.
        hooks.activations, hooks.gradients = [], []
        hooks.release()


@contextlib.contextmanager
def layer_restored(model: nn.Module, layer: nn.Module, stand_in: nn.Module) -> Iterator[None]:
    """Puts ``layer`` back where ``stand_in`` replaced it (AblationCAM swaps them)."""
    try:
        yield
    finally:
        if not any(m is layer for m in model.modules()):
            replace_layer_recursive(model, stand_in, layer)


def _make(
    spec: MethodSpec, model: nn.Module, layer: nn.Module, batch_size: int, reshape: Reshape | None
) -> tuple[BaseCAM, contextlib.AbstractContextManager]:
    """The library's CAM object of ``spec`` (its hooks are registered now) and the guard to
    restore what it changes in the model. ``reshape`` is the library's
    ``reshape_transform`` (a transformer's tokens to a map)."""
    cls = spec.load("reference")
    if spec.build is None:
        return cls(model, [layer], reshape_transform=reshape), contextlib.nullcontext()
    return spec.load("build")(cls, model, layer, batch_size=batch_size, reshape=reshape)


@contextlib.contextmanager
def library_object(
    spec: MethodSpec,
    model: nn.Module,
    layer: nn.Module,
    *,
    batch_size: int = 32,
    reshape: Reshape | None = None,
) -> Iterator[BaseCAM]:
    """The library's CAM object of ``spec`` while the block runs; afterwards its hooks are
    released and the model is as it was, also when the block raises."""
    with model_kept(model):  # BaseCAM's constructor already switches the model to eval
        cam, restore = _make(spec, model, layer, batch_size, reshape)
        with _released(cam), restore:
            yield cam


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
    spec = get_method(method, "cam")
    targets = [ClassifierOutputTarget(int(target))]
    with library_object(spec, model, layer, batch_size=batch_size, reshape=reshape) as cam:
        maps = cam(input_tensor=x, targets=targets)
    return np.asarray(maps[0], dtype=np.float32)
