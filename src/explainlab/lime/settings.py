"""Settings of the LIME stages: ``[lime]``, ``[tune]`` (with ``[tune.space]`` and
``[tune.reference]``) and ``[scoreboard]`` of a run config.

Plain dataclasses that import nothing but the standard library, so the command line and
the config loader read them without loading lime, torch or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXPLAINERS: tuple[str, ...] = ("fast", "lime")
TUNED = "tuned"  # [lime] params = "tuned": the parameter file the tune stage chose
DEFAULT_MASK_K = 5  # get_image_and_mask's num_features default: the grader's mask
DEFAULT_CUTOFF = 300.0  # seconds after which a scored image counts as failed
# the assignment's grading server, and how long to wait for its reply
SUBMIT_URL = "http://34.122.51.94:9091/lime"
SUBMIT_TIMEOUT = 120.0

# Segmentations the tuner tries (readable form; None is lime's default quickshift). slic
# gets start_label=0 because lime maps feature i to superpixel id i.
NAMED_SEGMENTATIONS: dict[str, dict[str, Any] | None] = {
    "default": None,
    "quickshift6": {"algo_type": "quickshift", "kernel_size": 6, "max_dist": 200, "ratio": 0.2},
    "slic30": {"algo_type": "slic", "n_segments": 30, "compactness": 10, "start_label": 0},
    "slic60": {"algo_type": "slic", "n_segments": 60, "compactness": 10, "start_label": 0},
    "felzenszwalb": {"algo_type": "felzenszwalb", "scale": 200, "sigma": 0.8, "min_size": 300},
}
SEGMENTATIONS: tuple[dict[str, Any] | None, ...] = tuple(NAMED_SEGMENTATIONS.values())

# Hypotheses about the image the grader runs LIME on (explainlab.lime.hypotheses).
HYPOTHESIS_NAMES: tuple[str, ...] = ("crop", "full")
AUTO = "auto"  # [tune] hypothesis: the one that best predicted the public scoreboard
TUNER = "tuner"  # [scoreboard] hypothesis: the one the tune stage used


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
    mask_num_features: int = (
        DEFAULT_MASK_K  # K of get_image_and_mask for mask.npy (file value wins)
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


@dataclass(frozen=True)
class ReferenceSettings:
    """The consensus reference the scoreboard and the tuner compare candidates with."""

    seeds: int = 5
    num_samples: int = 3000
    batch_size: int = 100  # only changes how the samples are batched, not the result

    def validate(self) -> None:
        if self.seeds < 1 or self.num_samples < 2 or self.batch_size < 1:
            raise ValueError("seeds >= 1, num_samples >= 2 and batch_size >= 1 are required")


@dataclass(frozen=True)
class SearchSpace:
    num_samples: tuple[int, ...] = (50, 100, 150, 200, 300, 400)
    segmentations: tuple[dict[str, Any] | None, ...] = SEGMENTATIONS
    hide_colors: tuple[Any, ...] = (None, 0)
    top_labels: tuple[int, ...] = (1, 5)
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0)  # Ridge; 1.0 is lime's default
    num_features: tuple[int, ...] = (100000, 10)
    mask_k: tuple[int, ...] = (DEFAULT_MASK_K,)
    batch_size: int = 100  # per classifier call; changes speed, not results

    def validate(self) -> None:
        for name in (
            "num_samples",
            "segmentations",
            "hide_colors",
            "top_labels",
            "alphas",
            "num_features",
            "mask_k",
        ):
            if not getattr(self, name):
                raise ValueError(f"the search space needs at least one value of {name}")
        if min(self.num_samples) < 2 or self.batch_size < 1 or min(self.mask_k) < 1:
            raise ValueError("num_samples >= 2, batch_size >= 1 and mask_k >= 1 are required")


@dataclass(frozen=True)
class CalibrationSettings:
    """How the local scoreboard is checked against the public one (``explainlab lime
    calibrate``, or ``[tune.calibration]`` when the tune stage calibrates first)."""

    submissions: str = ""  # a submissions JSON file; '' is the shipped public scoreboard
    only: tuple[str, ...] = ()  # the submissions (repository names) to score; () all
    hypotheses: tuple[str, ...] = HYPOTHESIS_NAMES
    seed: int = 0  # the explainer's random_state for every submission

    def validate(self) -> None:
        unknown = [h for h in self.hypotheses if h not in HYPOTHESIS_NAMES]
        if unknown or not self.hypotheses:
            raise ValueError(f"hypotheses must be among {', '.join(HYPOTHESIS_NAMES)}")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


@dataclass(frozen=True)
class TuneSettings:
    model: str = "resnet50"
    # Counted minutes of search for all images together (work at the cost model's rates),
    # beyond each image's lime-default run and its ladder of num_samples (references excluded).
    budget_minutes: float = 30.0
    repeats: int = 1
    iou_ratio: float = 0.9  # keep the mean IoU at >= this x the defaults' mean
    time_ratio: float = 0.3  # aim at a mean cost <= this x the defaults'
    image_floor: float = 0.5  # and no image below this x its defaults' IoU (0: no floor)
    seed: int = 0  # orders the random part of the search and seeds random_seed
    hypothesis: str = AUTO  # reference hypothesis: auto, or one of HYPOTHESIS_NAMES
    calibrate: bool = False  # auto without a calibration of the model: calibrate first
    cost_model: str = ""  # a stored cost model (JSON); '' this machine's, measured once
    space: SearchSpace = field(default_factory=SearchSpace)
    reference: ReferenceSettings = field(default_factory=ReferenceSettings)
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)

    def validate(self) -> None:
        if self.budget_minutes <= 0 or self.repeats < 1:
            raise ValueError("budget_minutes > 0 and repeats >= 1 are required")
        if self.iou_ratio <= 0 or self.time_ratio <= 0:
            raise ValueError("iou_ratio and time_ratio must be > 0")
        if not 0 <= self.image_floor <= 1:
            raise ValueError("image_floor must be between 0 and 1")
        if self.hypothesis not in (AUTO, *HYPOTHESIS_NAMES):
            raise ValueError(f"hypothesis must be {AUTO} or one of {', '.join(HYPOTHESIS_NAMES)}")
        self.space.validate()
        self.reference.validate()
        self.calibration.validate()


@dataclass(frozen=True)
class ScoreboardSettings:
    """The local scoreboard of a run (the ``[scoreboard]`` table): the run's parameters,
    and lime's defaults for comparison, scored as the grader would (plain lime, timed and
    counted) against the consensus reference of the ``[tune.reference]`` settings, under
    a reference hypothesis."""

    enabled: bool = True
    include_defaults: bool = True  # also score lime's default parameters
    cutoff: float = DEFAULT_CUTOFF  # seconds after which an image is not measured
    hypothesis: str = TUNER  # the tune stage's reference hypothesis, or one of HYPOTHESIS_NAMES

    def validate(self) -> None:
        if self.cutoff <= 0:
            raise ValueError("cutoff must be > 0 seconds")
        if self.hypothesis not in (TUNER, *HYPOTHESIS_NAMES):
            raise ValueError(f"hypothesis must be {TUNER} or one of {', '.join(HYPOTHESIS_NAMES)}")
