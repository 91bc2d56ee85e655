"""Occlusion (Zeiler and Fergus, 2014): the drop of the class score when a window sliding
over the image is set to the baseline."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="occlusion",
        title="Occlusion",
        colour="#393B79",
        kind="perturbation",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("occlusion", DEFAULTS)),
        reference="captum.attr:Occlusion",
        compute="explainlab.attributions.captum_methods:occlusion",
        about="the drop of the class score when a sliding square of the image is hidden",
        order=150,
        cost_text="the network once per position of the occluding window",
    )
)
