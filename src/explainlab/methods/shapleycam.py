"""ShapleyCAM (Cai et al., 2025): channel weights from the gradient minus half the
Hessian-vector product with the activations, a second-order Shapley approximation. The
library computes it (its backward pass keeps the graph for the second derivative)."""

from __future__ import annotations

import contextlib
from typing import Any

from explainlab.methods.registry import MethodSpec, Passes, register


def build_library(cls: Any, model: Any, layer: Any, *, batch_size: int, reshape: Any) -> Any:
    """The library's ShapleyCAM; refused for a transformer's tokens, which it cannot map
    (its ``reshape_transform`` reaches the weights, not the activations they weigh)."""
    if reshape is not None:
        from explainlab.errors import ConfigError

        raise ConfigError(
            "pytorch-grad-cam 1.5.7's ShapleyCAM cannot explain a transformer's tokens: it "
            "reshapes the gradients but weighs the activations unreshaped",
            hint="explain a convolutional layer with it, or the transformer with another CAM",
        )
    return cls(model, [layer]), contextlib.nullcontext()


SPEC = register(
    MethodSpec(
        name="shapleycam",
        title="ShapleyCAM",
        colour="#C5B0D5",
        kind="cam",
        layer=True,
        # one backward pass that keeps its graph, then a Hessian-vector product through it
        passes=lambda channels, impl: Passes(forward=1, backward=2),
        reference="pytorch_grad_cam:ShapleyCAM",
        build=build_library,
        about="weights each channel by its mean gradient minus half its Hessian-vector product",
        order=17,
        cost_text="one forward and two backward passes (a Hessian-vector product)",
    )
)
