"""Settings of the assignment's stages: ``[tune]`` (with ``[tune.space]``,
``[tune.reference]`` and ``[tune.calibration]``) and ``[scoreboard]``. Plain dataclasses
that import nothing but the standard library."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from explainlab.lime.settings import DEFAULT_MASK_K
from explainlab.settings import setting

TUNED = "tuned"  # [lime] params = "tuned": the parameter file the tune stage chose


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

# Hypotheses about the image the grader runs LIME on (explainlab.assignment.hypotheses).
HYPOTHESIS_NAMES: tuple[str, ...] = ("crop", "full", "gradcam")
AUTO = "auto"  # [tune] hypothesis: the one that best predicted the public scoreboard
TUNER = "tuner"  # [scoreboard] hypothesis: the one the tune stage used


@dataclass(frozen=True)
class ReferenceSettings:
    """The consensus reference the scoreboard and the tuner compare candidates with."""

    seeds: int = setting(5, "consensus: LIME runs")
    num_samples: int = setting(3000, "consensus: samples per run", aliases=("samples",))
    batch_size: int = 100  # only changes how the samples are batched, not the result

    def validate(self) -> None:
        if self.seeds < 1 or self.num_samples < 2 or self.batch_size < 1:
            raise ValueError("seeds >= 1, num_samples >= 2 and batch_size >= 1 are required")


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    num_samples: tuple[int, ...] = setting((50, 100, 150, 200, 300, 400), "num_samples values")
    segmentations: tuple[dict[str, Any] | None, ...] = setting(
        SEGMENTATIONS, "segmentations to try", choices=NAMED_SEGMENTATIONS, noun="segmentation"
    )
    hide_colors: tuple[Any, ...] = (None, 0)
    top_labels: tuple[int, ...] = setting((1, 5), "top_labels values")
    alphas: tuple[float, ...] = setting((0.1, 1.0, 10.0), "Ridge alphas (1.0 is lime's)")
    num_features: tuple[int, ...] = (100000, 10)
    mask_k: tuple[int, ...] = setting(
        (DEFAULT_MASK_K,),
        "candidate mask sizes K (default %(default)s, the grader's get_image_and_mask default)",
    )
    batch_size: int = setting(100, "images per classifier call; changes speed, not results")

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

    submissions: str = setting(
        "", "a submissions JSON file (default: the shipped public scoreboard)"
    )
    only: tuple[str, ...] = setting(
        (), "score only these submissions (repository names; default all)"
    )
    hypotheses: tuple[str, ...] = setting(
        HYPOTHESIS_NAMES, "hypotheses to check", choices=HYPOTHESIS_NAMES, noun="hypothesis"
    )
    seed: int = setting(0, "the explainer's random_state for every submission")

    def validate(self) -> None:
        unknown = [h for h in self.hypotheses if h not in HYPOTHESIS_NAMES]
        if unknown or not self.hypotheses:
            raise ValueError(f"hypotheses must be among {', '.join(HYPOTHESIS_NAMES)}")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


@dataclass(frozen=True, kw_only=True)
class TuneSettings:
    model: str = "resnet50"
    budget_minutes: float = setting(
        30.0,
        "counted minutes of search over all images (work at the cost model's rates), beyond "
        "lime's defaults and their ladder of num_samples (references excluded)",
    )
    repeats: int = setting(1, "sampling seeds per candidate")
    iou_ratio: float = setting(0.9, "IoU to keep, x the defaults' (their mean)")
    time_ratio: float = setting(
        0.3,
        "cost target, x the defaults' mean (default %(default)s); relaxed, never the IoU, "
        "when it cannot be met",
    )
    image_floor: float = setting(0.5, "no image below this x its defaults' IoU (0: no floor)")
    seed: int = setting(0, "search order and random_seed")
    hypothesis: str = setting(
        AUTO,
        "reference hypothesis: auto (the best agreement of the latest 'lime calibrate' of "
        "the model, crop without one), crop, full or gradcam",
        choices=(AUTO, *HYPOTHESIS_NAMES),
        noun="hypothesis",
    )
    calibrate: bool = setting(
        False, "with --hypothesis auto and no calibration of the model: calibrate first"
    )
    cost_model: str = setting(
        "", "a stored cost model (JSON; default this machine's, measured once on first use)"
    )
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
