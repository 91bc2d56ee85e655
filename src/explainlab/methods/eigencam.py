"""EigenCAM (Muhammad and Yeasin, 2020): the layer's activations projected onto their
first principal component; no class, no gradient. Its fast variant reads the activations
of the shared pass of :mod:`explainlab.cam.gradients` (alone: one forward pass, as the
library)."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="eigencam",
        title="EigenCAM",
        colour="#98DF8A",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1),
        reference="pytorch_grad_cam:EigenCAM",
        fast="explainlab.cam.gradients:fast_eigencam",
        about="projects the activations onto their first principal component (class-agnostic)",
        order=40,
        cost_text="one forward pass",
    )
)
