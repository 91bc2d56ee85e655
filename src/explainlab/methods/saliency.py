"""Saliency (Simonyan et al., 2014): the absolute gradient of the class score with
respect to the input."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="saliency",
        title="Saliency",
        colour="#E377C2",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("saliency", DEFAULTS)),
        reference="captum.attr:Saliency",
        compute="explainlab.attributions.captum_methods:saliency",
        about="the absolute gradient of the class score with respect to each input pixel",
        order=100,
        cost_text="runs one forward and one backward pass",
    )
)
