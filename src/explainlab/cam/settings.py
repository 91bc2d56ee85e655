"""Settings of the CAM stage (the ``[cam]`` table of a run config)."""

from __future__ import annotations

from dataclasses import dataclass

from explainlab.methods import check_methods

# The methods a run computes by default; every CAM method: explainlab.methods.method_names("cam")
METHODS: tuple[str, ...] = ("gradcam", "ablationcam", "scorecam")
IMPLS: tuple[str, ...] = ("fast", "library")


@dataclass(frozen=True)
class CamSettings:
    model: str = "resnet50"
    methods: tuple[str, ...] = METHODS
    impl: str = "fast"  # "fast": our exact fast variants; "library": pytorch-grad-cam's own
    target_layer: str = ""  # empty: the model's default target layer
    target_class: int | None = None  # None: the model's top-1 class for each image
    batch_size: int = 32  # masked images / ablated channels per forward pass
    # fast ScoreCAM only: bfloat16 autocast for the masked passes (faster, not exact)
    scorecam_bf16: bool = False

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
