"""ScoreCAM (Wang et al., 2020): a channel's weight is the softmax score of the target
class on the image masked by that channel's upsampled, normalised map."""

from explainlab.methods.registry import MethodSpec, Passes, register

SPEC = register(
    MethodSpec(
        name="scorecam",
        title="ScoreCAM",
        colour="#CC79A7",
        kind="cam",
        layer=True,
        passes=lambda channels, impl: Passes(forward=channels),
        reference="pytorch_grad_cam:ScoreCAM",
        fast="explainlab.cam.fast:fast_scorecam",
        about="weights each channel by the class's softmax score on the image masked by it",
        order=30,
        cost_text="runs the whole network once per channel",
    )
)
