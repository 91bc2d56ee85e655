"""Input x Gradient (Shrikumar et al., 2016): the input times the class score's gradient."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="inputxgradient",
        title="Input x Gradient",
        colour="#F7B6D2",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("inputxgradient", DEFAULTS)),
        reference="captum.attr:InputXGradient",
        compute="explainlab.attributions.captum_methods:inputxgradient",
        about="the input times the gradient of the class score",
        order=105,
        cost_text="runs one forward and one backward pass",
    )
)
