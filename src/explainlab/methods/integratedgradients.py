"""Integrated Gradients (Sundararajan et al., 2017): the gradient integrated along the
straight path from the baseline to the input, times their difference."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="integratedgradients",
        title="Integrated Gradients",
        colour="#DBDB8D",
        kind="gradient",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("integratedgradients", DEFAULTS)),
        reference="captum.attr:IntegratedGradients",
        compute="explainlab.attributions.captum_methods:integratedgradients",
        about="the gradient integrated along the straight path from a baseline to the input",
        order=125,
        cost_text="one forward and one backward pass per step of the path integral",
    )
)
