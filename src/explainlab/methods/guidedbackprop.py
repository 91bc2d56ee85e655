"""Guided Backpropagation (Springenberg et al., 2015): the gradient, with only positive
gradients passed back through each ReLU."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="guidedbackprop",
        title="Guided Backprop",
        colour="#C7C7C7",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("guidedbackprop", DEFAULTS)),
        reference="captum.attr:GuidedBackprop",
        compute="explainlab.attributions.captum_methods:guidedbackprop",
        about="the gradient with only positive gradients passed back through each ReLU",
        order=115,
        cost_text="one forward and one backward pass",
    )
)
