"""RISE (Petsiuk et al., 2018): the class probability on the image seen through random
smooth masks, as the weight of each mask in their sum (ours: no library has it)."""

from explainlab.attributions.settings import DEFAULTS, passes
from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="rise",
        title="RISE",
        colour="#8C6D31",
        kind="perturbation",
        layer=False,
        passes=lambda channels, impl: Passes(*passes("rise", DEFAULTS)),
        reference="ours",
        compute="explainlab.attributions.rise:rise",
        about="the class probability on randomly masked images, as each mask's weight in their sum",
        order=160,
        cost_text="the network once per random mask",
    )
)
