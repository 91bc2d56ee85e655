"""What one ``explain_instance`` costs, counted rather than timed, so that load cannot move it.

A run's cost is its work (:class:`Work`): one segmentation of the image, the perturbed
images lime builds (a copy of the image per row plus one whole-image comparison per
hidden superpixel, in lime's loop), the model calls (their chunk sizes), and the
regressor fits of every explained label (feature selection included). A
:class:`CostModel` converts the work into seconds with rates measured once on this
machine (:mod:`explainlab.assignment.costmeasure`); the same work always costs the same, busy
machine or not. Wall time is reported beside it, never used for a decision.

Two perturbers have their own rates: ``lime`` (lime's loop: what the grader runs) and
``fast`` (our vectorised one: what the tuner itself runs).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explainlab import runfolder

PERTURBERS: tuple[str, ...] = ("lime", "fast")
FORWARD_SELECTION_MAX = 6  # lime's 'auto' feature selection: forward selection up to 6 features


@dataclass(frozen=True, kw_only=True)
class Work:
    """Counted work of one explain_instance (or of part of one)."""

    pixels: int = 0  # pixels of the image LIME perturbs
    segmentation: str = ""  # the segmentation run (segmentation_key), '' when none was
    rows: int = 0  # perturbed images built
    hidden: int = 0  # superpixels hidden, summed over the rows
    chunks: tuple[tuple[int, int], ...] = ()  # (images per model call, calls)
    fits: int = 0  # regressor fits and scores
    fit_cells: int = 0  # sum over those of rows x columns
    resized_pixels: int = 0  # input pixels the classifier resizes before the model

    def __add__(self, other: Work) -> Work:
        if self.pixels and other.pixels and self.pixels != other.pixels:
            raise ValueError("work on images of different sizes cannot be added")
        segmentation = "+".join(s for s in (self.segmentation, other.segmentation) if s)
        chunks = Counter(dict(self.chunks)) + Counter(dict(other.chunks))
        return Work(
            pixels=self.pixels or other.pixels,
            segmentation=segmentation,
            rows=self.rows + other.rows,
            hidden=self.hidden + other.hidden,
            chunks=tuple(sorted(chunks.items())),
            fits=self.fits + other.fits,
            fit_cells=self.fit_cells + other.fit_cells,
            resized_pixels=self.resized_pixels + other.resized_pixels,
        )

    @property
    def images(self) -> int:
        """Model forward passes (images through the model)."""
        return sum(size * calls for size, calls in self.chunks)


def segmentation_key(readable_segmentation: Any) -> str:
    """The cost model's name of a segmentation (readable form; None: lime's default)."""
    if readable_segmentation is None:
        return "default"
    return json.dumps(readable_segmentation, sort_keys=True)


def model_calls(num_samples: int, batch_size: int, chunk: int) -> tuple[tuple[int, int], ...]:
    """(images per model call, calls) for ``num_samples`` images handed to the classifier
    in batches of ``batch_size``, each batch run in chunks of at most ``chunk`` (0: whole)."""
    calls: Counter[int] = Counter()
    chunk = chunk if chunk > 0 else max(batch_size, 1)
    full, rest = divmod(num_samples, max(batch_size, 1))
    for size, times in ((batch_size, full), (rest, 1 if rest else 0)):
        whole, tail = divmod(size, chunk)
        if whole:
            calls[chunk] += whole * times
        if tail:
            calls[tail] += times
    return tuple(sorted(calls.items()))


def regression_work(rows: int, features: int, num_features: int, labels: int) -> tuple[int, int]:
    """(fits, cells) of lime's LimeBase for ``labels`` explained labels: 'auto' feature
    selection (forward selection up to 6 features, else one Ridge fit to rank them), then
    the regressor's fit, score and prediction on the kept features."""
    fits = cells = 0
    kept = min(num_features, features)
    if num_features <= FORWARD_SELECTION_MAX:
        for used in range(kept):  # one fit and one score per remaining feature
            fits += 2 * (features - used)
            cells += 2 * (features - used) * rows * (used + 1)
    else:
        fits, cells = 1, rows * features
    fits += 2
    cells += 2 * rows * kept
    return fits * labels, cells * labels


def explained_labels(params: Mapping[str, Any], classes: int) -> int:
    """How many labels lime fits with these parameters."""
    top = params.get("top_labels")
    if top:
        return min(int(top), classes)
    return len(tuple(params.get("labels") or ()))


def explain_work(
    params: Mapping[str, Any],
    *,
    pixels: int,
    data: np.ndarray,
    classes: int,
    chunk: int,
    resize: bool = False,
) -> Work:
    """The work plain lime does for ``params`` (object or readable form, every key
    present) given its perturbation matrix ``data``: what a run costs the grader."""
    n, features = data.shape
    readable_segmentation = params.get("segmentation_fn")
    if readable_segmentation is not None and not isinstance(readable_segmentation, dict):
        from explainlab.lime.params import to_readable

        readable_segmentation = to_readable({"s": readable_segmentation})["s"]
    fudging = features if params.get("hide_color") is None else 0  # mean colour per superpixel
    fits, cells = regression_work(
        n, features, int(params["num_features"]), explained_labels(params, classes)
    )
    return Work(
        pixels=pixels,
        segmentation=segmentation_key(readable_segmentation),
        rows=n + (1 if fudging else 0),
        hidden=int(n * features - np.count_nonzero(data)) + fudging,
        chunks=model_calls(n, int(params["batch_size"]), chunk),
        fits=fits,
        fit_cells=cells,
        resized_pixels=n * pixels if resize else 0,
    )


@dataclass(kw_only=True)
class CostModel:
    """Seconds per unit of work on one machine and model, measured once (see the module
    docstring); stored as JSON with the run."""

    model: str
    device: str
    threads: int
    machine: str  # host and processor count where it was measured
    measured_at: str
    load_average: float  # the 1-minute load average when it was measured (quiet: below the cores)
    chunk_sizes: list[int]  # images per model call measured ...
    chunk_seconds: list[float]  # ... and the seconds of one such call (interpolated between)
    segmentation_per_pixel: dict[str, float]  # seconds per pixel, by segmentation_key
    row_per_pixel: dict[str, float]  # per perturber: seconds per pixel of a perturbed image
    hidden_per_pixel: dict[str, float]  # per perturber: seconds per pixel of a hidden superpixel
    fit_seconds: float  # per regressor fit or score
    fit_cell_seconds: float  # per cell (rows x columns) of a fit
    resize_per_pixel: float = 0.0  # the classifier's resize, per input pixel (full-size images)
    notes: list[str] = field(default_factory=list)

    def call_seconds(self, size: int) -> float:
        """Seconds of one model call on ``size`` images (linear between measured sizes,
        proportional beyond the largest)."""
        sizes, seconds = self.chunk_sizes, self.chunk_seconds
        if size > sizes[-1]:
            return seconds[-1] * size / sizes[-1]
        return float(np.interp(size, sizes, seconds))

    def seconds(self, work: Work, perturber: str = "lime") -> float:
        return sum(self.breakdown(work, perturber).values())

    def breakdown(self, work: Work, perturber: str = "lime") -> dict[str, float]:
        """Seconds of each kind of work: segmentation, perturbation, model, regression."""
        if perturber not in PERTURBERS:
            raise ValueError(f"perturber must be one of {', '.join(PERTURBERS)}")
        segmentation = sum(
            self.segmentation_rate(key) * work.pixels for key in work.segmentation.split("+") if key
        )
        perturbation = work.pixels * (
            work.rows * self.row_per_pixel[perturber]
            + work.hidden * self.hidden_per_pixel[perturber]
        )
        model = sum(calls * self.call_seconds(size) for size, calls in work.chunks)
        model += work.resized_pixels * self.resize_per_pixel
        regression = work.fits * self.fit_seconds + work.fit_cells * self.fit_cell_seconds
        return {
            "segmentation": segmentation,
            "perturbation": perturbation,
            "model": model,
            "regression": regression,
        }

    def segmentation_rate(self, key: str) -> float:
        try:
            return self.segmentation_per_pixel[key]
        except KeyError:
            raise KeyError(
                f"the cost model has no rate for segmentation {key}; measure it first "
                "(costmeasure.ensure_segmentations)"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostModel:
        return cls(**dict(data))

    def save(self, path: Path) -> Path:
        runfolder.write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: Path) -> CostModel:
        from explainlab.errors import InputError

        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(
                f"{path}: not a readable cost model ({exc})",
                hint="write one with 'explainlab lime calibrate --costs'",
            ) from None

    def digest(self) -> str:
        """What changes the numbers (not where or when it was measured): for fingerprints."""
        rates = {k: v for k, v in self.to_dict().items() if k not in ("measured_at", "notes")}
        return runfolder.fingerprint(rates)
