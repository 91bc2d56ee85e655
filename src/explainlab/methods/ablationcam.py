"""AblationCAM (Desai and Ramaswamy, 2020): a channel's weight is the relative drop of the
target score when that channel is zeroed."""

from explainlab.methods.registry import MethodSpec, Passes, register

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
        about="weights each channel by how much the class score drops when it is zeroed",
        order=20,
        cost_text="runs the network above the layer once per channel",
    )
)
