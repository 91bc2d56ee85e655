"""HiResCAM (Draelos and Carin, 2020): each activation times its gradient, summed over
channels (no averaging). Its fast variant shares the one forward and backward pass of
:mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="hirescam",
        title="HiResCAM",
        colour="#FFBB78",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:HiResCAM",
        fast="explainlab.cam.gradients:fast_hirescam",
        about="sums the activations times their gradients, element by element",
        order=11,
        cost_text="one forward and one backward pass",
    )
)
