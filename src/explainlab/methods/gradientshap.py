"""GradientSHAP (Lundberg and Lee, 2017; captum): the expected gradient at random points
between the baseline and the input, times their difference."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="gradientshap",
        title="GradientSHAP",
        colour="#9EDAE5",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("gradientshap", DEFAULTS)),
        reference="captum.attr:GradientShap",
        compute="explainlab.attributions.captum_methods:gradientshap",
        about="expected gradients times input minus baseline at random points between them",
        order=135,
        cost_text="one forward and one backward pass per sample",
    )
)
