"""Grad-CAM (Selvaraju et al., 2017): channel weights are the target score's gradients
averaged over the layer's map."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="gradcam",
        title="Grad-CAM",
        colour="#0072B2",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:GradCAM",
        fast="explainlab.cam.fast:fast_gradcam",
        about="weights each channel of the layer by the mean gradient of the class score",
        order=10,
        cost_text="runs one forward and one backward pass",
    )
)
