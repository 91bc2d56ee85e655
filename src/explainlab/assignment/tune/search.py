"""The trials of one image: lime's defaults (the baseline) and their ladder of num_samples,
from one set of model outputs, whatever the budget; then one group of candidates after
another (:func:`explainlab.assignment.tune.space.groups`) while the image's share of the budget
lasts. The budget is counted work (:mod:`explainlab.assignment.cost`, at the tuner's own fast
perturber's rates), so load never changes which candidates are tried; each candidate's
cost is what plain lime would cost with its parameters (lime's perturber), with the wall
time beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from explainlab.assignment.cost import (
    CostModel,
    Work,
    model_calls,
    regression_work,
    segmentation_key,
)
from explainlab.assignment.evaluation import OK, Evaluation
from explainlab.assignment.reference import Reference
from explainlab.assignment.settings import TuneSettings
from explainlab.assignment.sharing import SampleGroup
from explainlab.assignment.tune.space import (
    DEFAULT_GROUP,
    Group,
    baseline,
    describe,
    group_name,
    groups,
    members,
)
from explainlab.lime.classifier import ModelClassifier, classifier_traits
from explainlab.lime.params import complete, from_readable


@dataclass
class ImageSearch:
    trials: pd.DataFrame
    spent: float  # counted seconds of search charged to the budget (beyond the baseline's group)
    searched: list[str] = field(default_factory=list)  # groups tried, with their sample counts


def _objects(readable: dict[str, Any]) -> dict[str, Any]:
    params, _ = from_readable(readable, "candidate")
    return complete(params)


def predicted_cost(
    group: Group,
    samples: int,
    settings: TuneSettings,
    cost_model: CostModel,
    *,
    pixels: int,
    features: int,
    chunk: int,
    segmented: bool,
) -> float:
    """What computing ``group`` at ``samples`` would cost (features guessed from the
    default segmentation's): decides whether it fits what is left of the budget."""
    space = settings.space
    fits = cells = 0
    for n in (n for n in space.num_samples if n <= samples):
        f, c = regression_work(n, features, min(space.num_features), 1)
        fits += f * len(space.alphas) * len(space.num_features)
        cells += c * len(space.alphas) * len(space.num_features)
    work = Work(
        pixels=pixels,
        segmentation="" if segmented else segmentation_key(group[0]),
        rows=samples + 1,
        hidden=samples * features // 2 + features,
        chunks=model_calls(samples, space.batch_size, chunk),
        fits=fits,
        fit_cells=cells,
    )
    return settings.repeats * cost_model.seconds(work, "fast")


def _rows(
    key: str,
    kind: str,
    group: Group,
    readable: dict[str, Any],
    runs: Sequence[Evaluation],
    reference: Reference,
    mask_ks: Sequence[int],
) -> list[dict[str, Any]]:
    """One trials row per mask K: the candidate's mean over the repeats."""
    status = next((r.status for r in runs if r.status != OK), OK)
    out = []
    for k in mask_ks:
        ious = [r.iou(reference, k) for r in runs]
        out.append(
            {
                "key": key,
                "kind": kind,
                "group": group_name(group),
                "iou": float(np.mean(ious)),
                "iou_min": float(np.min(ious)),
                "iou_max": float(np.max(ious)),
                "label": int(reference.label) if reference.label is not None else -1,
                "cost_seconds": float(np.mean([r.cost_seconds for r in runs])),
                "wall_seconds": float(np.mean([r.seconds for r in runs])),
                "images": int(readable["num_samples"]),
                "status": status,
                "error": next((r.error for r in runs if r.error), ""),
                "mask_k": k,
                **describe(readable),
                "params": json.dumps(readable),
            }
        )
    return out


def _largest_fitting(group, left, settings, cost_model, **shape) -> int | None:
    for n in sorted(settings.space.num_samples, reverse=True):
        if predicted_cost(group, n, settings, cost_model, **shape) <= left:
            return n
    return None


def search_image(
    key: str,
    image: np.ndarray,
    classifier: ModelClassifier,
    reference: Reference,
    settings: TuneSettings,
    cost_model: CostModel,
    share: float,
) -> ImageSearch:
    """The trials of one image within ``share`` counted seconds (see the module docstring)."""
    space, label = settings.space, int(reference.label)
    base = baseline(settings.seed)
    segmentations: dict = {}  # candidates share random_seed: one segment map per segmentation
    rows: list[dict[str, Any]] = []
    spent, searched, features = 0.0, [], 0
    pixels, chunk = image.shape[0] * image.shape[1], classifier_traits(classifier)[0]
    bar = tqdm(groups(space, settings.seed), desc=f"  {key}", unit="group", leave=False)
    for group in bar:
        if group == DEFAULT_GROUP:
            candidates = [base, *members(space, group, settings.seed)]
            samples = max(c["num_samples"] for c in candidates)
        else:
            shape = {"pixels": pixels, "features": features, "chunk": chunk}
            segmented = any(k[0] == segmentation_key(group[0]) for k in segmentations)
            samples = _largest_fitting(
                group, share - spent, settings, cost_model, segmented=segmented, **shape
            )
            if samples is None:
                continue  # a group with a cheaper segmentation may still fit
            candidates = members(space, group, settings.seed, samples)
        if not candidates:
            continue
        largest = max(candidates, key=lambda c: c["num_samples"])
        runs: list[list[Evaluation]] = [[] for _ in candidates]
        for repeat in range(settings.repeats):
            shared = SampleGroup(
                image,
                classifier,
                _objects(largest),
                seed=1 + repeat,  # the scoreboard uses 0: a later score is an independent check
                num_samples=samples,
                batch_size=int(largest["batch_size"]),
                segmentations=segmentations,
            )
            for i, readable in enumerate(candidates):
                runs[i].append(shared.evaluate(_objects(readable), label, cost_model))
            if group != DEFAULT_GROUP:
                spent += cost_model.seconds(shared.total_work, "fast")
            features = features or shared.data.shape[1]
        searched.append(f"{group_name(group)} ({samples} samples)")
        for i, readable in enumerate(candidates):
            kind = "baseline" if readable is base else "search"
            rows += _rows(key, kind, group, readable, runs[i], reference, space.mask_k)
    bar.close()
    trials = pd.DataFrame(rows)
    trials.insert(1, "trial", range(len(trials)))
    return ImageSearch(trials, spent, searched)
