"""FullGrad (Srinivas and Fleuret, 2019): the input times its gradient plus, for every
convolution and batch norm with a bias, the bias times its gradient, summed over the
whole network. It ignores the target layer (the library says so); the library computes
it."""

from __future__ import annotations

import contextlib
from typing import Any

from explainlab.methods.registry import MethodSpec, Passes, register


def build_library(cls: Any, model: Any, layer: Any, *, batch_size: int, reshape: Any) -> Any:
    """The library's FullGrad over every biased Conv2d and BatchNorm2d: no target layer
    (given one, it prints that it ignores it) and no reshape (those layers give maps)."""
    return cls(model, []), contextlib.nullcontext()


SPEC = register(
    MethodSpec(
        name="fullgrad",
        title="FullGrad",
        colour="#FF9896",
        kind="cam",
        layer=True,  # given one like every CAM, and ignored
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:FullGrad",
        build=build_library,
        about="sums input x gradient and bias x gradient of every convolution and batch norm "
        "(ignores the target layer)",
        order=19,
        cost_text="one forward and one backward pass to the input",
    )
)
