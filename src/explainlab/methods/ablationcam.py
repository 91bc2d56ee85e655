"""AblationCAM (Desai and Ramaswamy, 2020): a channel's weight is the relative drop of the
target score when that channel is zeroed."""

from __future__ import annotations

from typing import Any

from explainlab.methods.registry import MethodSpec, Passes, register


def build_library(cls: Any, model: Any, layer: Any, *, batch_size: int, reshape: Any) -> Any:
    """The library's AblationCAM with a fresh stand-in layer (its default argument is
    shared state): the channels of the last dimension under a ``reshape``, as its
    ``AblationLayerVit`` does. It swaps the target layer out while it runs: the guard
    returned puts it back, whatever happens."""
    from pytorch_grad_cam.ablation_layer import AblationLayer, AblationLayerVit

    from explainlab.cam.library import layer_restored

    stand_in = AblationLayerVit() if reshape is not None else AblationLayer()
    cam = cls(
        model, [layer], reshape_transform=reshape, ablation_layer=stand_in, batch_size=batch_size
    )
    return cam, layer_restored(model, layer, stand_in)


SPEC = register(
    MethodSpec(
        name="ablationcam",
        title="AblationCAM",
        colour="#009E73",
        kind="cam",
        layer=True,
        # ours runs the part of the network above the layer once per channel, batched:
        # about one forward pass of the whole network per image
        passes=lambda channels, impl: Passes(forward=1 if impl == "fast" else channels),
        reference="pytorch_grad_cam:AblationCAM",
        fast="explainlab.cam.fast:fast_ablationcam",
        build=build_library,
        about="weights each channel by how much the class score drops when it is zeroed",
        order=20,
        cost_text="the layers after the target once per channel",
        library_cost_text="the network once per channel",
    )
)
