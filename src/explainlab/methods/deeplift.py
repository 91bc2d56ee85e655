"""DeepLIFT (Shrikumar et al., 2017): the output's difference from the baseline's,
propagated back by the rescale rule at each non-linearity (captum's DeepLift; on a copy
with one module per call where the model reuses an activation module)."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="deeplift",
        title="DeepLIFT",
        colour="#17BECF",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("deeplift", DEFAULTS)),
        reference="captum.attr:DeepLift",
        compute="explainlab.attributions.captum_methods:deeplift",
        about="the difference from a baseline's output, propagated back by the rescale rule",
        order=130,
        cost_text="one forward pass of the input and its baseline and one backward pass",
    )
)
