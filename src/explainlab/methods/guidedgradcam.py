"""Guided Grad-CAM (Selvaraju et al., 2017): guided backpropagation multiplied by the
layer's Grad-CAM map upsampled to the input (a CNN's spatial layer: no reshape)."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="guidedgradcam",
        title="Guided Grad-CAM",
        colour="#BCBD22",
        kind="gradient",
        layer=True,
        passes=lambda channels, impl: Passes(*passes("guidedgradcam", DEFAULTS)),
        reference="captum.attr:GuidedGradCam",
        compute="explainlab.attributions.captum_methods:guidedgradcam",
        about="guided backpropagation times the Grad-CAM map of the target layer, upsampled",
        order=120,
        cost_text="two forward and two backward passes",
    )
)
