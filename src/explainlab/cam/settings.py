"""Settings of the CAM stage (the ``[cam]`` table of a run config)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from explainlab.attributions.settings import AttributionSettings
from explainlab.methods import get_method, method_names, methods, unknown_method_message
from explainlab.settings import setting

# The methods a run computes by default; every CAM method: explainlab.methods.method_names("cam")
METHODS: tuple[str, ...] = ("gradcam", "ablationcam", "scorecam")
IMPLS: tuple[str, ...] = ("fast", "library")
# The kinds of method the stage makes maps of; LIME (a surrogate) runs in its own stage.
MAP_KINDS: tuple[str, ...] = ("cam", "gradient", "perturbation")


def map_method_names() -> tuple[str, ...]:
    """Every registered method the CAM stage computes: the CAMs, the gradient and the
    perturbation attributions (in the registry's order)."""
    return tuple(m.name for m in methods() if m.kind in MAP_KINDS)


def check_map_methods(names: Iterable[str]) -> None:
    """A ``ValueError`` for the first name that is no registered method, or a surrogate."""
    known = map_method_names()
    for name in names:
        if name in known:
            continue
        if name not in method_names():
            raise ValueError(unknown_method_message(name, known))
        spec = get_method(name)
        raise ValueError(
            f"{spec.title} is a {spec.kind} method: it runs in its own stage, not as a map "
            f"of [cam]; known: {', '.join(known)}"
        )


@dataclass(frozen=True, kw_only=True)
class CamSettings:
    model: str = "resnet50"
    methods: tuple[str, ...] = setting(
        METHODS,
        "methods to run: CAMs, gradient and perturbation attributions",
        choices=map_method_names,
        noun="method",
    )
    impl: str = setting(
        "fast", "fast: our exact fast variants; library: pytorch-grad-cam's own", choices=IMPLS
    )
    target_layer: str = setting(
        "",  # empty: the model's default target layer
        "target layer as a dotted path with indices: 'layer4[-1]', 'features.denseblock4', "
        "'blocks.11.norm1' (default: the model's, else located: the last spatial map)",
        aliases=("layer",),
    )
    target_class: int | None = setting(None, "class index to explain (default: each image's top-1)")
    batch_size: int = setting(32, "masked images / ablated channels per forward pass")
    scorecam_bf16: bool = setting(
        False, "fast ScoreCAM under bfloat16 autocast: faster, not exact (off by default)"
    )
    # The gradient and perturbation methods' numbers (``[cam.attributions]``): captum's
    # defaults, the map rule, the seed (as xl.explain's ``attributions`` takes them).
    attributions: AttributionSettings = field(default_factory=AttributionSettings)

    def validate(self) -> None:
        if not self.methods:
            raise ValueError("methods must name at least one CAM method or attribution")
        try:
            check_map_methods(self.methods)
        except ValueError as exc:
            raise ValueError(f"methods: {exc}") from None
        if self.impl not in IMPLS:
            raise ValueError(f"impl must be one of {', '.join(IMPLS)}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.scorecam_bf16 and self.impl != "fast":
            raise ValueError("scorecam_bf16 needs impl 'fast' (the library has no bf16 mode)")
        if self.target_class is not None and self.target_class < 0:
            raise ValueError("target_class must be a class index >= 0")
        try:
            self.attributions.validate()
        except ValueError as exc:
            raise ValueError(f"attributions: {exc}") from None
