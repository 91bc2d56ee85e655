"""Finer-CAM (Zhang et al., 2025): Grad-CAM of the target's score against the classes
the model finds most similar to it. The library's settings: Grad-CAM as the base method,
the three classes whose scores are closest to the target's as the comparison, alpha 1.
The library computes it."""

from __future__ import annotations

import contextlib
from typing import Any

from explainlab.methods.registry import MethodSpec, Passes, register


class TargetIndexCall:
    """A FinerCAM called like every BaseCAM: the target class goes in as its
    ``target_idx`` (with ``targets`` given, FinerCAM would be plain Grad-CAM)."""

    def __init__(self, finer: Any) -> None:
        self.finer = finer
        self.activations_and_grads = finer.base_cam.activations_and_grads

    def __call__(self, input_tensor: Any, targets: list) -> Any:
        (target,) = {int(t.category) for t in targets}
        return self.finer(input_tensor, targets=None, target_idx=target)


def build_library(cls: Any, model: Any, layer: Any, *, batch_size: int, reshape: Any) -> Any:
    """The library's FinerCAM with its defaults, taking the target as ``target_idx``."""
    return TargetIndexCall(cls(model, [layer], reshape_transform=reshape)), contextlib.nullcontext()


SPEC = register(
    MethodSpec(
        name="finercam",
        title="Finer-CAM",
        colour="#8C564B",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:FinerCAM",
        build=build_library,
        about="Grad-CAM of the target's score minus those of the three most similar classes",
        order=18,
        cost_text="one forward and one backward pass",
    )
)
