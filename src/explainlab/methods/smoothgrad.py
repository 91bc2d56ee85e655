"""SmoothGrad (Smilkov et al., 2017): captum's NoiseTunnel over Saliency (nt_type
"smoothgrad"): the gradient averaged over noisy copies of the input."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="smoothgrad",
        title="SmoothGrad",
        colour="#7F7F7F",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("smoothgrad", DEFAULTS)),
        reference="captum.attr:NoiseTunnel",
        compute="explainlab.attributions.captum_methods:smoothgrad",
        about="the saliency averaged over copies of the input with Gaussian noise added",
        order=110,
        cost_text="one forward and one backward pass per noisy copy",
    )
)
