"""LIME (Ribeiro et al., 2016): a weighted linear model fitted to the classifier's
outputs on images with superpixels hidden; the map is the superpixels' weights."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="lime",
        title="LIME",
        colour="#D55E00",
        kind="surrogate",
        layer=False,
        passes=lambda channels, impl: Passes(forward=1000),  # lime's default num_samples
        reference="lime.lime_image:LimeImageExplainer.explain_instance",
        about="fits a linear model to the class score of images with superpixels hidden",
        order=90,
        cost_text="runs the network once per perturbed sample",
    )
)
