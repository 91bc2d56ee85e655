"""Settings of the LIME stage (the ``[lime]`` table of a run config)."""

from __future__ import annotations

from dataclasses import dataclass

EXPLAINERS: tuple[str, ...] = ("fast", "lime")


@dataclass(frozen=True)
class LimeSettings:
    model: str = "resnet50"
    # Parameter file (TOML or JSON) with explain_instance arguments per image; empty means
    # lime's own defaults for every image.
    params: str = ""
    # "fast": our vectorised drop-in explainer (identical results); "lime": lime's own.
    explainer: str = "fast"
    # Seeds the explainer's random_state (the sampling) and, where the parameter file has
    # none, explain_instance's random_seed (the segmentation): lime 0.2.0.1 needs both.
    seed: int = 0
    target_class: int | None = None  # None: each image's top-1 class
    mask_num_features: int = 5  # K of get_image_and_mask for mask.npy (file value wins)

    def validate(self) -> None:
        if self.explainer not in EXPLAINERS:
            raise ValueError(f"explainer must be one of {', '.join(EXPLAINERS)}")
        if self.mask_num_features < 1:
            raise ValueError("mask_num_features must be at least 1")
        if self.target_class is not None and self.target_class < 0:
            raise ValueError("target_class must be a class index >= 0")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


@dataclass(frozen=True)
class ScoreboardSettings:
    """The local scoreboard of a run (the ``[scoreboard]`` table): the run's parameters,
    and lime's defaults for comparison, scored as the grader would (plain lime, timed)
    against the consensus reference of the ``[tune.reference]`` settings."""

    enabled: bool = True
    include_defaults: bool = True  # also score lime's default parameters
    cutoff: float = 300.0  # seconds after which an image counts as failed

    def validate(self) -> None:
        if self.cutoff <= 0:
            raise ValueError("cutoff must be > 0 seconds")
