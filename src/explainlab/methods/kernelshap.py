"""KernelSHAP (Lundberg and Lee, 2017): Shapley values of the superpixels LIME segments
the crop into, estimated by a weighted linear fit on sampled coalitions (captum's)."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="kernelshap",
        title="KernelSHAP",
        colour="#637939",
        kind="perturbation",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("kernelshap", DEFAULTS)),
        reference="captum.attr:KernelShap",
        compute="explainlab.attributions.captum_methods:kernelshap",
        about="Shapley values of LIME's superpixels, fitted on sampled coalitions",
        order=155,
        cost_text="the network once per coalition sampled",
    )
)
