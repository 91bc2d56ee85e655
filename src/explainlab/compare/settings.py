"""Settings of the compare stage (the ``[compare]`` table of a run config)."""

from __future__ import annotations

from dataclasses import dataclass

from explainlab.cam.settings import check_map_methods, map_method_names
from explainlab.methods import unknown_method_message
from explainlab.settings import setting

SUBSTRATES: tuple[str, ...] = ("mean", "black", "blur")
LIME = "lime"
# Thresholds of the IoU sweep: 0.05, 0.10, ..., 0.95.
DEFAULT_SWEEP: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))


def sanity_method_names() -> tuple[str, ...]:
    """The methods the sanity check has an explainer of: every method the CAM stage
    computes (CAMs, gradient and perturbation attributions), and LIME."""
    return (*map_method_names(), LIME)


@dataclass(frozen=True, kw_only=True)
class CompareSettings:
    # Agreement between each method's map and LIME, and between every two methods.
    cam_methods: tuple[str, ...] = setting(
        (),
        "methods (CAMs, attributions) to compare (default: every one in the run)",
        choices=map_method_names,
        noun="method",
        aliases=("methods",),
    )
    primary_method: str = setting(
        "gradcam",
        "method of the complexity answer (do simple images agree more?)",
        choices=map_method_names,
        noun="method",
        aliases=("primary",),
    )
    # fixed binarisation of the (min-max normalised) CAM
    threshold: float = setting(0.5, "fixed CAM threshold")
    sweep: tuple[float, ...] = DEFAULT_SWEEP
    # every two methods' maps: their top pixels covering this share of the crop
    pair_top: float = setting(
        0.2, "share of the crop in each map's top mask (area-matched IoU of two methods)"
    )

    # Complexity of an image (quickshift with LIME's default parameters).
    edge_sigma: float = 2.0  # Gaussian sigma of the Canny edge detector
    colour_levels: int = 8  # levels per channel of the colour histogram (8 -> 512 bins)

    # Deletion / insertion curves.
    faithfulness: bool = setting(True, "deletion/insertion")
    steps: int = setting(32, "points per deletion/insertion curve (after the unperturbed one)")
    deletion_substrate: str = setting(
        "mean", "what deleted pixels become (RISE: the dataset mean)", choices=SUBSTRATES
    )
    insertion_substrate: str = setting(
        "blur", "what insertion starts from (RISE: a blurred copy)", choices=SUBSTRATES
    )
    random_repeats: int = setting(3, "random orders averaged into the baseline")
    random_patch: int = 16  # the random order shuffles patches of this size (pixels)
    batch_size: int = setting(
        32, "perturbed images built at once (the model runs them in its own calls)"
    )

    # Parameter-randomisation sanity check (Adebayo et al., 2018).
    sanity: bool = setting(True, "the randomisation sanity check")
    sanity_methods: tuple[str, ...] = setting(
        (),
        "methods in the sanity check (default: every CAM method compared, and LIME)",
        choices=sanity_method_names,
        noun="method",
    )
    sanity_blocks: tuple[str, ...] = ()  # top-down layer names; empty: the model's own blocks
    sanity_max_steps: int = setting(
        0, "randomise only this many top blocks (default 0: the whole cascade)"
    )
    sanity_images: int = setting(
        0, "run the sanity check on the first N images only (the check is costly; default 0: all)"
    )
    lime_samples: int = setting(1000, "LIME num_samples in the sanity check")
    lime_batch_size: int = 32

    seed: int = setting(0, "seed of every random choice")

    def validate(self) -> None:
        for name, given in (
            ("cam_methods", self.cam_methods),
            ("primary_method", [self.primary_method]),
        ):
            try:
                check_map_methods(given)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must lie strictly between 0 and 1")
        if not 0.0 < self.pair_top < 1.0:
            raise ValueError("pair_top must lie strictly between 0 and 1")
        if not self.sweep or any(not 0.0 <= t <= 1.0 for t in self.sweep):
            raise ValueError("sweep must list thresholds within [0, 1]")
        if list(self.sweep) != sorted(set(self.sweep)):
            raise ValueError("sweep must be increasing without repeats")
        if self.edge_sigma <= 0:
            raise ValueError("edge_sigma must be positive")
        if not 2 <= self.colour_levels <= 64:
            raise ValueError("colour_levels must be between 2 and 64")
        if self.steps < 2:
            raise ValueError("steps must be at least 2")
        for name in ("deletion_substrate", "insertion_substrate"):
            if getattr(self, name) not in SUBSTRATES:
                raise ValueError(f"{name} must be one of {', '.join(SUBSTRATES)}")
        if self.random_repeats < 1:
            raise ValueError("random_repeats must be at least 1")
        if not 1 <= self.random_patch <= 224:
            raise ValueError("random_patch must be between 1 and 224 pixels")
        for name in self.sanity_methods:
            if name not in sanity_method_names():
                message = unknown_method_message(name, sanity_method_names())
                raise ValueError(f"sanity_methods: {message}")
        for name in ("batch_size", "lime_samples", "lime_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("sanity_max_steps", "sanity_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (all) or more")
