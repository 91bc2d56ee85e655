"""KPCA-CAM (Karmani et al., 2024): EigenCAM with kernel PCA, the library's default
kernel (sigmoid, scikit-learn's default gamma); no class, no gradient. Its fast variant
reads the activations of the shared pass of :mod:`explainlab.cam.gradients`."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="kpca_cam",
        title="KPCA-CAM",
        colour="#9467BD",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=1),
        reference="pytorch_grad_cam:KPCA_CAM",
        fast="explainlab.cam.gradients:fast_kpca_cam",
        about="projects the activations onto their first kernel principal component "
        "(sigmoid kernel; class-agnostic)",
        order=41,
        cost_text="one forward pass and a kernel PCA of the layer's positions",
    )
)
