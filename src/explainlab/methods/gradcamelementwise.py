"""Grad-CAM ElementWise (pytorch-grad-cam's variant of HiResCAM): the positive part of each
activation times its gradient, summed over channels. Its fast variant shares the one
forward and backward pass of :mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="gradcamelementwise",
        title="Grad-CAM ElementWise",
        colour="#2CA02C",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:GradCAMElementWise",
        fast="explainlab.cam.gradients:fast_gradcamelementwise",
        about="sums the positive parts of activations times gradients",
        order=12,
        cost_text="one forward and one backward pass",
    )
)
