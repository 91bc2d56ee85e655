"""Measuring a :class:`explainlab.lime.cost.CostModel` once, and finding it again.

Every rate is the fastest of a few repeats (load only ever adds time, so the minimum is
the quiet machine's figure), and the load average at the time is recorded beside it. A
measured model is cached per model, device, thread count and machine under the explainlab
cache (``lime-costs/``) and reused by every later run there, so that two runs, one on a
quiet machine and one on a busy one, price the same work alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lime.lime_image import LimeImageExplainer
from sklearn.linear_model import Ridge

from explainlab import assets
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.cost import CostModel, segmentation_key
from explainlab.lime.fast import FastLimeImageExplainer
from explainlab.models import LoadedModel

REPEATS = 3
CHUNK_SIZES = (1, 2, 4, 8, 16, 32, 64)
FULL_SIZE = (375, 500)  # a typical ImageNet file, to time the classifier's resize


def fastest(run: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The shortest wall time of ``repeats`` calls of ``run``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def machine() -> str:
    return f"{platform.node() or 'unknown'} ({os.cpu_count()} CPUs)"


def load_average() -> float:
    try:
        return float(os.getloadavg()[0])
    except OSError:  # not available on this platform
        return float("nan")


def _grid(shape: tuple[int, int], cells: int) -> np.ndarray:
    """A segmentation of ``cells`` x ``cells`` equal blocks, ids 0..cells²-1."""
    rows = np.minimum(np.arange(shape[0]) * cells // shape[0], cells - 1)
    cols = np.minimum(np.arange(shape[1]) * cells // shape[1], cells - 1)
    return rows[:, None] * cells + cols[None, :]


def _perturbation_rates(image: np.ndarray, explainer: type, repeats: int) -> tuple[float, float]:
    """(seconds per pixel of a built image, per pixel of a hidden superpixel) of one
    explainer's data_labels, from two segmentations of different counts."""
    pixels = image.shape[0] * image.shape[1]
    fudged = np.zeros_like(image)
    equations, times = [], []
    for cells in (4, 10):
        segments = _grid(image.shape[:2], cells)
        rows = 40
        seen: dict[str, np.ndarray] = {}

        def run(segments=segments, rows=rows, seen=seen) -> None:
            data, _ = explainer(random_state=0).data_labels(
                image, fudged, segments, _no_model, rows, batch_size=rows
            )
            seen["data"] = data

        times.append(fastest(run, repeats))
        hidden = rows * cells * cells - np.count_nonzero(seen["data"])
        equations.append([rows * pixels, hidden * pixels])
    row_rate, hidden_rate = np.linalg.lstsq(
        np.array(equations, float), np.array(times), rcond=None
    )[0]
    return max(float(row_rate), 0.0), max(float(hidden_rate), 0.0)


def _no_model(images: np.ndarray) -> np.ndarray:
    return np.zeros((len(images), 2))


def _fit_rates(repeats: int) -> tuple[float, float]:
    """(seconds per fit or score, per cell) of lime's Ridge regressions."""
    rng = np.random.default_rng(0)
    times, cells = [], []
    for rows, cols in ((50, 2), (1000, 60)):
        x = rng.integers(0, 2, (rows, cols)).astype(float)
        y, w = rng.random(rows), rng.random(rows)

        def run(x=x, y=y, w=w) -> None:
            model = Ridge(alpha=1.0).fit(x, y, sample_weight=w)
            model.score(x, y, sample_weight=w)

        times.append(fastest(run, repeats * 3) / 2)  # a fit and a score: two units
        cells.append(rows * cols)
    per_cell = max((times[1] - times[0]) / (cells[1] - cells[0]), 0.0)
    return max(times[0] - per_cell * cells[0], 0.0), per_cell


def _call_seconds(classifier: ModelClassifier, image: np.ndarray, repeats: int) -> list[float]:
    seconds = []
    for size in CHUNK_SIZES:
        batch = np.repeat(image[None], size, axis=0)
        classifier(batch)  # warm-up
        seconds.append(fastest(lambda batch=batch: classifier(batch), repeats))
    return seconds


def _resize_rate(model: LoadedModel, image: np.ndarray, repeats: int) -> float:
    from explainlab.lime.hypotheses import resizing_classifier

    resizing = resizing_classifier(model)
    full = np.zeros((16, *FULL_SIZE, 3), np.uint8)
    crop = np.zeros((16, *image.shape[:2], 3), np.uint8)
    resizing(full)
    plain = ModelClassifier.for_model(model)
    extra = fastest(lambda: resizing(full), repeats) - fastest(lambda: plain(crop), repeats)
    return max(extra / (16 * FULL_SIZE[0] * FULL_SIZE[1]), 0.0)


def measure_cost_model(
    model: LoadedModel,
    image: np.ndarray,
    segmentations: Iterable[Any] = (None,),
    *,
    repeats: int = REPEATS,
) -> CostModel:
    """Measure every rate on ``image`` (a crop the model sees) and ``model`` (a few
    seconds to a minute, depending on the model)."""
    classifier = ModelClassifier.for_model(model)
    load = load_average()
    lime_rates = _perturbation_rates(image, LimeImageExplainer, repeats)
    fast_rates = _perturbation_rates(image, FastLimeImageExplainer, repeats)
    fit, cell = _fit_rates(repeats)
    cost_model = CostModel(
        model=model.name,
        device=model.device.type,
        threads=torch.get_num_threads(),
        machine=machine(),
        measured_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        load_average=load,
        chunk_sizes=[s for s in CHUNK_SIZES if s <= classifier.chunk],
        chunk_seconds=_call_seconds(classifier, image, repeats)[
            : len([s for s in CHUNK_SIZES if s <= classifier.chunk])
        ],
        segmentation_per_pixel={},
        row_per_pixel={"lime": lime_rates[0], "fast": fast_rates[0]},
        hidden_per_pixel={"lime": lime_rates[1], "fast": fast_rates[1]},
        fit_seconds=fit,
        fit_cell_seconds=cell,
        resize_per_pixel=_resize_rate(model, image, repeats),
    )
    ensure_segmentations(cost_model, segmentations, image, repeats=repeats)
    cores = os.cpu_count() or 1
    if max(load, load_average()) > 0.5 * cores:
        cost_model.notes.append(
            f"measured while the machine was busy (load {max(load, load_average()):.1f} on "
            f"{cores} CPUs): rates may be high; re-measure on a quiet machine with "
            "'explainlab lime calibrate --costs --remeasure'"
        )
    return cost_model


def ensure_segmentations(
    cost_model: CostModel,
    segmentations: Iterable[Any],
    image: np.ndarray,
    *,
    repeats: int = REPEATS,
) -> bool:
    """Measure the rate of each segmentation (readable form; None is lime's default) the
    cost model lacks. True if one was added."""
    from explainlab.lime.params import from_readable
    from explainlab.lime.params.objects import segmentation as lime_segmentation

    added = False
    pixels = image.shape[0] * image.shape[1]
    for readable in segmentations:
        key = segmentation_key(readable)
        if key in cost_model.segmentation_per_pixel:
            continue
        if readable is None:  # lime's default, as explain_instance builds it
            segment = lime_segmentation(
                "quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=0
            )
        else:
            segment = from_readable({"segmentation_fn": readable}, "cost model")[0][
                "segmentation_fn"
            ]
        cost_model.segmentation_per_pixel[key] = (
            fastest(lambda s=segment: s(image), repeats) / pixels
        )
        added = True
    return added


def cost_model_path(model: LoadedModel) -> Path:
    name = (
        f"{model.name}-{model.device.type}-{torch.get_num_threads()}t-{platform.node() or 'host'}"
    )
    return assets.cache_dir().parent / "lime-costs" / f"{name}.json"


def cost_model_for(
    model: LoadedModel,
    image: np.ndarray,
    segmentations: Iterable[Any] = (None,),
    *,
    path: str | Path = "",
    remeasure: bool = False,
) -> CostModel:
    """The stored cost model (``path``, else this machine's cached one for ``model``),
    measured now if there is none (or ``remeasure``); segmentations it lacks are added
    and stored."""
    from explainlab.errors import InputError

    stored = Path(path) if path else cost_model_path(model)
    if path and not stored.is_file():
        raise InputError(f"{stored}: no such cost model", hint="leave it empty to measure one")
    if stored.is_file() and not remeasure:
        cost_model = CostModel.load(stored)
        if cost_model.model != model.name:
            raise InputError(
                f"{stored}: a cost model of {cost_model.model}, not of {model.name}",
                hint="give the cost model of the model being explained",
            )
        if ensure_segmentations(cost_model, segmentations, image):
            cost_model.save(stored)
        return cost_model
    cost_model = measure_cost_model(model, image, segmentations)
    cost_model.save(stored)
    return cost_model
