"""Settings of the CAM stage (the ``[cam]`` table of a run config)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from explainlab.methods import check_methods, method_names
from explainlab.settings import setting

# The methods a run computes by default; every CAM method: explainlab.methods.method_names("cam")
METHODS: tuple[str, ...] = ("gradcam", "ablationcam", "scorecam")
IMPLS: tuple[str, ...] = ("fast", "library")


@dataclass(frozen=True, kw_only=True)
class CamSettings:
    model: str = "resnet50"
    methods: tuple[str, ...] = setting(
        METHODS, "methods to run", choices=partial(method_names, "cam"), noun="method"
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

    def validate(self) -> None:
        if not self.methods:
            raise ValueError("methods must name at least one CAM method")
        try:
            check_methods(self.methods, "cam")
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
