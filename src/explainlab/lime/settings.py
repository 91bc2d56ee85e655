"""Settings of the LIME stages: ``[lime]``, ``[tune]`` (with ``[tune.space]`` and
``[tune.reference]``) and ``[scoreboard]`` of a run config.

Plain dataclasses that import nothing but the standard library, so the command line and
the config loader read them without loading lime, torch or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

from explainlab.settings import setting

EXPLAINERS: tuple[str, ...] = ("fast", "lime")
DEFAULT_MASK_K = 5  # get_image_and_mask's num_features default: the grader's mask


@dataclass(frozen=True)
class LimeSettings:
    model: str = "resnet50"
    # empty: lime's own defaults for every image
    params: str = setting(
        "",
        "parameter file (TOML or JSON) with explain_instance arguments per image "
        "(default: lime's defaults; 'lime_params' is the shipped example)",
    )
    explainer: str = setting(
        "fast",
        "fast: our vectorised explainer, identical results; lime: lime's own",
        choices=EXPLAINERS,
    )
    # lime 0.2.0.1 needs both seeds: random_state (the sampling), random_seed (the segmentation)
    seed: int = setting(
        0,
        "seeds the sampling (explainer random_state) and random_seed where the file has none",
    )
    target_class: int | None = setting(None, "class index to explain (default: each image's top-1)")
    mask_num_features: int = setting(
        DEFAULT_MASK_K,
        "K superpixels in mask.npy, get_image_and_mask's num_features (default %(default)s; "
        "a file's mask_num_features wins)",
        aliases=("mask_features",),
    )

    def validate(self) -> None:
        if self.explainer not in EXPLAINERS:
            raise ValueError(f"explainer must be one of {', '.join(EXPLAINERS)}")
        if self.mask_num_features < 1:
            raise ValueError("mask_num_features must be at least 1")
        if self.target_class is not None and self.target_class < 0:
            raise ValueError("target_class must be a class index >= 0")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
