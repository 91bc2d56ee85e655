"""ScoreCAM (Wang et al., 2020): a channel's weight is the softmax score of the target
class on the image masked by that channel's upsampled, normalised map."""

from __future__ import annotations

import contextlib
from typing import Any

from explainlab.methods.registry import MethodSpec, Passes, register


def build_library(cls: Any, model: Any, layer: Any, *, batch_size: int, reshape: Any) -> Any:
    """The library's ScoreCAM, masked images scored ``batch_size`` at a time."""
    cam = cls(model, [layer], reshape_transform=reshape)
    cam.batch_size = batch_size  # ScoreCAM reads this attribute when present
    return cam, contextlib.nullcontext()


SPEC = register(
    MethodSpec(
        name="scorecam",
        title="ScoreCAM",
        colour="#CC79A7",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=channels),
        reference="pytorch_grad_cam:ScoreCAM",
        fast="explainlab.cam.fast:fast_scorecam",
        build=build_library,
        about="weights each channel by the class's softmax score on the image masked by it",
        order=30,
        cost_text="the whole network once per channel{channels}",
    )
)
