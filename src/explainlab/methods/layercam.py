"""LayerCAM (Jiang et al., 2021): each activation times its own positive gradient, summed
over channels. Its fast variant shares the one forward and backward pass of
:mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="layercam",
        title="LayerCAM",
        colour="#FF7F0E",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:LayerCAM",
        fast="explainlab.cam.gradients:fast_layercam",
        about="weights each activation by its own positive gradient",
        order=15,
        cost_text="one forward and one backward pass",
    )
)
