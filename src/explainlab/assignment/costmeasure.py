"""Measuring a :class:`explainlab.assignment.cost.CostModel` once, and finding it again.

Every rate is the fastest of a few repeats (load only ever adds time, so the minimum is
the quiet machine's figure), and the load average at the time is recorded beside it. A
measured model is cached per model, device, thread count, layout (channels-last or not,
images per forward call: :func:`explainlab.models.speed.layout`) and machine under the
explainlab cache (``lime-costs/``) and reused by every later run there, so that two runs, one on a
quiet machine and one on a busy one, price the same work alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lime.lime_image import LimeImageExplainer
from sklearn.linear_model import Ridge

from explainlab import assets
from explainlab.assignment.cost import CostModel, segmentation_key
from explainlab.errors import InputError
from explainlab.images import ImageSource, load_sample
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.fast import FastLimeImageExplainer
from explainlab.models import LoadedModel
from explainlab.models.speed import layout
from explainlab.settings import DEFAULT_MAX_PIXELS

REPEATS = 3
ROUNDS = 2
CHUNK_SIZES = (1, 4, 8, 16, 64)  # images per model call timed (interpolated between)
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


def _call_seconds(
    classifier: ModelClassifier, image: np.ndarray, sizes: Sequence[int], repeats: int
) -> list[float]:
    seconds = []
    for size in sizes:
        batch = np.repeat(image[None], size, axis=0)
        classifier(batch)  # warm-up
        seconds.append(fastest(lambda batch=batch: classifier(batch), repeats))
    return seconds


def _resize_rate(model: LoadedModel, image: np.ndarray, repeats: int) -> float:
    from explainlab.assignment.hypotheses import resizing_classifier

    resizing = resizing_classifier(model)
    full = np.zeros((16, *FULL_SIZE, 3), np.uint8)
    crop = np.zeros((16, *image.shape[:2], 3), np.uint8)
    resizing(full)
    plain = ModelClassifier.for_model(model)
    extra = fastest(lambda: resizing(full), repeats) - fastest(lambda: plain(crop), repeats)
    return max(extra / (16 * FULL_SIZE[0] * FULL_SIZE[1]), 0.0)


def _rates(model: LoadedModel, image: np.ndarray, repeats: int) -> dict[str, Any]:
    """One round of every rate but the segmentations'."""
    classifier = ModelClassifier.for_model(model)
    lime_rates = _perturbation_rates(image, LimeImageExplainer, repeats)
    fast_rates = _perturbation_rates(image, FastLimeImageExplainer, repeats)
    fit, cell = _fit_rates(repeats)
    sizes = [s for s in CHUNK_SIZES if s <= classifier.chunk]
    return {
        "chunk_sizes": sizes,
        "chunk_seconds": _call_seconds(classifier, image, sizes, repeats),
        "row_per_pixel": {"lime": lime_rates[0], "fast": fast_rates[0]},
        "hidden_per_pixel": {"lime": lime_rates[1], "fast": fast_rates[1]},
        "fit_seconds": fit,
        "fit_cell_seconds": cell,
        "resize_per_pixel": _resize_rate(model, image, repeats),
    }


def _fastest_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each rate's lowest value over the rounds (load only ever adds time)."""

    def low(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {k: low([v[k] for v in values]) for k in values[0]}
        if isinstance(values[0], list):
            return [low(list(column)) for column in zip(*values, strict=True)]
        return min(values)

    merged = {k: low([r[k] for r in rounds]) for k in rounds[0]}
    merged["chunk_sizes"] = rounds[0]["chunk_sizes"]
    return merged


def measure_cost_model(
    model: LoadedModel,
    image: np.ndarray,
    segmentations: Iterable[Any] = (None,),
    *,
    repeats: int = REPEATS,
    rounds: int = ROUNDS,
) -> CostModel:
    """Measure every rate on ``image`` (a crop the model sees) and ``model``: the fastest
    of ``repeats`` runs, in ``rounds`` rounds some seconds apart (a few seconds to a
    minute in all, depending on the model)."""
    load = load_average()
    rates = _fastest_of([_rates(model, image, repeats) for _ in range(rounds)])
    cost_model = CostModel(
        model=model.name,
        device=model.device.type,
        threads=torch.get_num_threads(),
        machine=machine(),
        measured_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        load_average=load,
        segmentation_per_pixel={},
        **rates,
    )
    ensure_segmentations(cost_model, segmentations, image, repeats=repeats)
    cores = os.cpu_count() or 1
    busy = max(load, load_average())
    if busy > 0.5 * cores:
        cost_model.notes.append(
            f"measured while the machine was busy (load {busy:.1f} on {cores} CPUs): rates "
            "may be high; re-measure on a quiet machine with "
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
    from lime.wrappers.scikit_image import SegmentationAlgorithm

    from explainlab.lime.params import from_readable

    added = False
    pixels = image.shape[0] * image.shape[1]
    for readable in segmentations:
        key = segmentation_key(readable)
        if key in cost_model.segmentation_per_pixel:
            continue
        if readable is None:  # lime's default, as explain_instance builds it
            segment = SegmentationAlgorithm(
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
        f"{model.name}-{model.device.type}-{torch.get_num_threads()}t-"
        f"{layout(model.module, model.device)}-{platform.node() or 'host'}"
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


def cost_model_for_sources(
    model: LoadedModel,
    sources: Sequence[ImageSource],
    segmentations: Iterable[Any] = (None,),
    *,
    path: str | Path = "",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    remeasure: bool = False,
) -> CostModel:
    """:func:`cost_model_for`, measured (when it must be) on the first readable image."""
    for source in sources:
        try:
            crop = load_sample(source, model.geometry, max_pixels=max_pixels).crop
        except InputError:
            continue
        return cost_model_for(model, crop, segmentations, path=path, remeasure=remeasure)
    raise InputError("no image could be read to measure the cost model on")


def describe_cost_model(cost_model: CostModel) -> list[str]:
    """The rates, one line each."""
    per_image = cost_model.call_seconds(cost_model.chunk_sizes[-1]) / cost_model.chunk_sizes[-1]
    crop = 224 * 224
    lines = [
        f"cost model of {cost_model.model} on {cost_model.device} ({cost_model.threads} threads), "
        f"{cost_model.machine}, measured {cost_model.measured_at} at load "
        f"{cost_model.load_average:.1f}",
        f"  model: {per_image * 1000:.1f} ms per image in calls of {cost_model.chunk_sizes[-1]}, "
        f"{cost_model.call_seconds(1) * 1000:.1f} ms for a call of one",
        f"  perturbation per 224x224 image: lime {cost_model.row_per_pixel['lime'] * crop * 1000:.3f} "
        f"ms + {cost_model.hidden_per_pixel['lime'] * crop * 1000:.3f} ms per hidden superpixel; "
        f"fast {cost_model.row_per_pixel['fast'] * crop * 1000:.3f} ms",
        f"  regression: {cost_model.fit_seconds * 1000:.2f} ms per fit + "
        f"{cost_model.fit_cell_seconds * 1e9:.1f} ns per cell",
    ]
    lines += [
        f"  segmentation {key}: {rate * crop:.3f} s per 224x224 image"
        for key, rate in cost_model.segmentation_per_pixel.items()
    ]
    return lines + [f"  note: {note}" for note in cost_model.notes]
