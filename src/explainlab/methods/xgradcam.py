"""XGrad-CAM (Fu et al., 2020): channel weights are the gradients averaged with the
normalised activations as weights. Its fast variant shares the one forward and backward
pass of :mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="xgradcam",
        title="XGrad-CAM",
        colour="#AEC7E8",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:XGradCAM",
        fast="explainlab.cam.gradients:fast_xgradcam",
        about="weights each channel by its gradients averaged over the activations",
        order=14,
        cost_text="one forward and one backward pass",
    )
)
