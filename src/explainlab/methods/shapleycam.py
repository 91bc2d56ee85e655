"""ShapleyCAM (Cai et al., 2025): channel weights from the gradient minus half the
Hessian-vector product with the activations, a second-order Shapley approximation. The
library computes it (its backward pass keeps the graph for the second derivative)."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="shapleycam",
        title="ShapleyCAM",
        colour="#C5B0D5",
        kind="cam",
        layer=True,
        # one backward pass that keeps its graph, then a Hessian-vector product through it
        passes=lambda channels, impl: Passes(forward=1, backward=2),
        reference="pytorch_grad_cam:ShapleyCAM",
        about="weights each channel by its mean gradient minus half its Hessian-vector product",
        order=17,
        cost_text="one forward and two backward passes (a Hessian-vector product)",
    )
)
