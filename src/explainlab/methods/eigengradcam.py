"""EigenGradCAM (pytorch-grad-cam's EigenCAM of activations times gradients): the first
principal component of the activations times their gradients. Its fast variant shares
the one forward and backward pass of :mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="eigengradcam",
        title="EigenGradCAM",
        colour="#D62728",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:EigenGradCAM",
        fast="explainlab.cam.gradients:fast_eigengradcam",
        about="projects activations times gradients onto their first principal component",
        order=16,
        cost_text="one forward and one backward pass",
    )
)
