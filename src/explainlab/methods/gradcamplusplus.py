"""Grad-CAM++ (Chattopadhay et al., 2018): channel weights are the positive gradients, each
scaled by the closed-form alphas of eq. 19. Its fast variant shares the one forward and
backward pass of :mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="gradcamplusplus",
        title="Grad-CAM++",
        colour="#1F77B4",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1, backward=1),
        reference="pytorch_grad_cam:GradCAMPlusPlus",
        fast="explainlab.cam.gradients:fast_gradcamplusplus",
        about="weights each channel by its positive gradients, scaled by eq. 19's alphas",
        order=13,
        cost_text="one forward and one backward pass",
    )
)
