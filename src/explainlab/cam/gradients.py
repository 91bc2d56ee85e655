"""The CAMs that read nothing but the target layer's activations and gradients, all from
one forward and one backward pass, and a batch of images as one batch.

pytorch-grad-cam runs the whole network forward and backward once per method (its
backward also fills every parameter's ``.grad``). The seven gradient CAMs below differ
only in what they make of the layer's activations A and gradients dS/dA, so
:func:`gradient_cams` computes those once: the layers before the target run without
autograd, and the gradient of the targets' scores is taken down to the layer only. Each
method's map is then the library's own: its class's ``compute_cam_per_layer`` and
``aggregate_multi_layers`` (weights, maps, ReLU, min-max, resize) run on the shared A and
dS/dA, so equal A and dS/dA give equal maps.

EigenCAM, KPCA-CAM and RandomCAM read the activations alone (RandomCAM the gradients'
shape only): they ride along for free, and asked for alone they skip the backward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from explainlab.cam.fast import UseLibrary
from explainlab.cam.guards import model_kept
from explainlab.cam.split import check_output, check_target
from explainlab.errors import ConfigError
from explainlab.methods import get_method
from explainlab.models.targets import Reshape

GRADIENT_CAMS: tuple[str, ...] = (
    "gradcam",
    "hirescam",
    "gradcamelementwise",
    "gradcamplusplus",
    "xgradcam",
    "layercam",
    "eigengradcam",
)
ACTIVATION_CAMS: tuple[str, ...] = ("eigencam", "kpca_cam", "randomcam")
SHARED: tuple[str, ...] = GRADIENT_CAMS + ACTIVATION_CAMS  # what one pass can serve
# RandomCAM's weights are the first draws after seeding: as the library is called for
# one image, so each image is replayed on its own.
ONE_IMAGE_AT_A_TIME = frozenset({"randomcam"})


@dataclass(frozen=True)
class LayerReading:
    activations: torch.Tensor  # (N, C, h, w) on the CPU, after the reshape
    gradients: torch.Tensor | None  # the same shape; None without a backward pass


def _tail_differentiable(seen: list[torch.Tensor], kept: list[torch.Tensor]):
    """A forward hook that records the layer's output and, from there on, turns autograd
    on: the layers before the target ran without it, so only the tail is differentiated."""

    def hook(module: nn.Module, inputs: object, output: object) -> torch.Tensor | None:
        check_output(module, output)
        seen.append(output)
        if len(seen) > 1:
            return None
        torch.set_grad_enabled(True)  # undone when the caller's no_grad block ends
        leaf = output.detach().requires_grad_(True)
        kept.extend([leaf, leaf.clone()])  # the clone goes on, so later layers may edit it
        return kept[1]

    return hook


def read_layer(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    targets: Sequence[int],
    *,
    backward: bool = True,
    reshape: Reshape | None = None,
) -> LayerReading:
    """The target layer's activations on ``x`` (N, 3, H, W) and, with ``backward``, the
    gradient of the sum of each image's target score with respect to them (what the
    library's backward pass leaves in its hooks), ``reshape`` applied to both."""
    if x.ndim != 4 or len(targets) != x.shape[0]:
        raise ConfigError(f"{len(targets)} targets for inputs of shape {tuple(x.shape)}")
    seen: list[torch.Tensor] = []
    kept: list[torch.Tensor] = []
    handle = layer.register_forward_hook(_tail_differentiable(seen, kept))
    try:
        with torch.no_grad():
            logits = model(x)
            if not seen:
                raise ConfigError(
                    f"the CAM target layer {type(layer).__name__} is not used by the model's "
                    "forward pass",
                    hint="choose a layer the model runs, e.g. its default target layer",
                )
            if len(seen) > 1:
                raise UseLibrary(f"the target layer runs {len(seen)} times per forward pass")
            leaf, passed_on = kept
            if passed_on._version:
                raise UseLibrary("a later layer changes the target layer's output in place")
            for target in targets:
                check_target(target, int(logits.shape[1]))
            gradients = None
            if backward:
                rows = torch.arange(len(targets), device=logits.device)
                score = logits[rows, torch.as_tensor(list(targets), device=logits.device)]
                (gradients,) = torch.autograd.grad(score.sum(), leaf)
    finally:
        handle.remove()
    activations = leaf.detach()
    if reshape is not None:
        activations = reshape(activations)
        gradients = reshape(gradients) if gradients is not None else None
    return LayerReading(
        activations.cpu(), gradients.detach().cpu() if gradients is not None else None
    )


def _replay(
    method: str, model: nn.Module, layer: nn.Module, x: torch.Tensor, reading: LayerReading
) -> np.ndarray:
    """The library's map of ``method`` from ``reading``: its CAM object (built as the
    method's ``build`` says, hooks released at once) given the activations and gradients
    its hooks would have recorded, then its own per-layer maps and aggregation."""
    from explainlab.cam.library import library_object

    gradients = reading.gradients
    if gradients is None:  # RandomCAM reads the gradients' shape; the others none of them
        gradients = torch.zeros_like(reading.activations)
    targets = [ClassifierOutputTarget(0)] * x.shape[0]  # not read by these methods
    with library_object(get_method(method, "cam"), model, layer) as cam:
        hooks = cam.activations_and_grads
        hooks.release()
        hooks.activations, hooks.gradients = [reading.activations], [gradients]
        try:
            return cam.aggregate_multi_layers(cam.compute_cam_per_layer(x, targets, False))
        finally:  # its release would detach our (shared, perhaps sliced) tensors in place
            hooks.activations, hooks.gradients = [], []


def gradient_cams(
    methods: Sequence[str],
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    targets: Sequence[int],
    *,
    reshape: Reshape | None = None,
) -> dict[str, np.ndarray]:
    """``{method: (N, H, W) float32 maps in [0, 1]}`` for images ``x`` (N, 3, H, W), each
    for its own target class, from one forward pass and (for any of
    :data:`GRADIENT_CAMS`) one backward pass of the layers after ``layer``. Raises
    :class:`~explainlab.cam.fast.UseLibrary` where the library's hooks would see something
    else than ours (a layer that runs twice, or whose output is changed in place)."""
    unknown = [m for m in methods if m not in SHARED]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a CAM of the shared pass ({SHARED})")
    with model_kept(model):
        reading = read_layer(
            model,
            layer,
            x,
            targets,
            backward=any(m in GRADIENT_CAMS for m in methods),
            reshape=reshape,
        )
        maps = {}
        for method in dict.fromkeys(methods):
            if method in ONE_IMAGE_AT_A_TIME:
                maps[method] = np.concatenate(
                    [_replay(method, model, layer, x[i : i + 1], _row(reading, i)) for i in _n(x)]
                )
            else:
                maps[method] = _replay(method, model, layer, x, reading)
        return {m: np.asarray(v, dtype=np.float32) for m, v in maps.items()}


def _n(x: torch.Tensor) -> range:
    return range(int(x.shape[0]))


def _row(reading: LayerReading, i: int) -> LayerReading:
    gradients = reading.gradients
    return LayerReading(
        reading.activations[i : i + 1], gradients[i : i + 1] if gradients is not None else None
    )


def one_shared_map(method: str):
    """The fast variant of one method of the shared pass: ``fn(model, layer, x, target,
    *, reshape)`` -> the (H, W) map of one image."""

    def fast(
        model: nn.Module,
        layer: nn.Module,
        x: torch.Tensor,
        target: int,
        *,
        reshape: Reshape | None = None,
    ) -> np.ndarray:
        return gradient_cams([method], model, layer, x, [target], reshape=reshape)[method][0]

    fast.__name__ = f"fast_{method}"
    return fast


# The fast variants the method registry names (one image each)
fast_hirescam = one_shared_map("hirescam")
fast_gradcamelementwise = one_shared_map("gradcamelementwise")
fast_gradcamplusplus = one_shared_map("gradcamplusplus")
fast_xgradcam = one_shared_map("xgradcam")
fast_layercam = one_shared_map("layercam")
fast_eigengradcam = one_shared_map("eigengradcam")
fast_eigencam = one_shared_map("eigencam")
fast_kpca_cam = one_shared_map("kpca_cam")
fast_randomcam = one_shared_map("randomcam")
