"""One shard of an evaluation: an explicit list of items, evaluated batch by batch, each
batch's per-image results written into the shard's folder as one atomic folder
(:class:`explainlab.runfolder.Stage`): a rerun skips the finished batches and resumes
from the next, a finished shard (the same plan and items) is skipped whole. Nothing is
kept across batches, so memory stays flat over any number of images.

Each batch folder holds ``values.csv`` (key, method, measure, value), ``agreement.csv``
(key, method_a, method_b, value: Spearman's rho of the two maps), ``images.csv`` (what
was explained: label, target, prediction), ``costs.csv`` (method, images, seconds, and the passes per image) and
``failures.csv`` (key, path, reason). :mod:`explainlab.evaluation.merge` reads them back."""

from __future__ import annotations

import itertools
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from explainlab.compare.image import rng_for
from explainlab.compare.pairs import pair_rows
from explainlab.compare.settings import CompareSettings
from explainlab.errors import InputError
from explainlab.evaluation.dataset import Item, Loaded, load_item
from explainlab.evaluation.maps import MapMaker
from explainlab.evaluation.plan import Plan
from explainlab.measures import get_measure
from explainlab.measures.batch import ModelBatch
from explainlab.models import LoadedModel, load_model
from explainlab.runfolder import Stage

BATCH_FILES = ("values.csv", "agreement.csv", "images.csv", "costs.csv", "failures.csv")
COLUMNS = {
    "values.csv": ["key", "method", "measure", "value"],
    "agreement.csv": ["key", "method_a", "method_b", "measure", "value"],
    "images.csv": ["key", "path", "label", "label_name", "target", "predicted", "probability"],
    "costs.csv": ["method", "images", "seconds", "forward", "backward"],
    "failures.csv": ["key", "path", "reason"],
}
PAIRS = CompareSettings()  # the pair measures' threshold and top share: the compare stage's
# on_batch(images done in this shard, its images): after each batch (progress, tests)
OnBatch = Callable[[int, int], None]


@dataclass(frozen=True)
class ShardSummary:
    folder: Path  # the finished shard's folder
    batches: int  # in the shard
    computed: int  # batches this call computed (0: the shard was finished already)


def split(items: Sequence[Item], shards: int, batch_size: int) -> list[list[Item]]:
    """``items`` in at most ``shards`` consecutive lists, cut between batches, so that the
    batches (and their random draws) are those of one shard of all the items: the merged
    tables equal a single run's."""
    batches = [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]
    per = -(-len(batches) // max(shards, 1)) if batches else 1
    return [
        list(itertools.chain.from_iterable(batches[i : i + per]))
        for i in range(0, len(batches), per)
    ]


def evaluate_shard(
    model: LoadedModel | str,
    items: Sequence[Item],
    folder: str | Path,
    plan: Plan,
    *,
    device: str = "auto",
    progress: bool = True,
    on_batch: OnBatch | None = None,
) -> ShardSummary:
    """Evaluate ``items`` with ``plan`` on ``model`` (a loaded model, or a name for
    :func:`explainlab.models.load_model`, loaded on ``device``), writing the per-image
    results into ``folder`` (a new or an interrupted shard; finished: returned as is)."""
    folder = Path(folder)
    items = list(items)
    batches = [items[i : i + plan.batch_size] for i in range(0, len(items), plan.batch_size)]
    stage = shard_stage(folder, items, plan)
    if stage.complete:
        return ShardSummary(stage.final, len(batches), 0)
    if isinstance(model, str):
        model = load_model(model, device)
    maker = MapMaker.for_methods(
        model,
        plan.methods,
        plan.layer,
        impl=plan.impl,
        attributions=_attribution_settings(plan),
    )
    done = [stage.has_item(batch_name(i)) for i in range(len(batches))]
    finished = sum(len(b) for b, d in zip(batches, done, strict=True) if d)
    computed = 0
    with tqdm(
        total=len(items),
        initial=finished,
        unit="image",
        desc=f"evaluate {folder.name}",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        for index, batch in enumerate(batches):
            if done[index]:
                continue
            with stage.item(batch_name(index)) as tmp:
                for name, frame in _evaluate_batch(maker, batch, plan).items():
                    frame.to_csv(tmp / name, index=False)
            computed += 1
            finished += len(batch)
            bar.update(len(batch))
            if on_batch is not None:
                on_batch(finished, len(items))
    return ShardSummary(stage.commit(), len(batches), computed)


def shard_stage(folder: str | Path, items: Sequence[Item], plan: Plan) -> Stage:
    """The resumable stage of a shard, fingerprinted by its plan and items: ``.complete``
    tells a scheduler that the shard is finished without loading the model."""
    folder = Path(folder)
    batches = -(-len(items) // plan.batch_size)
    return Stage(
        folder.parent,
        folder.name,
        {"plan": plan.to_dict(), "items": [item.to_dict() for item in items]},
        items=[batch_name(i) for i in range(batches)],
    )


def batch_name(index: int) -> str:
    return f"batch-{index:06d}"


def _attribution_settings(plan: Plan):
    from explainlab.attributions.settings import AttributionSettings

    settings = AttributionSettings(**plan.attributions)
    settings.validate()
    return settings


def _load(batch: Sequence[Item], plan: Plan, geometry) -> tuple[list[Loaded], list[dict]]:
    loaded, failures = [], []
    for item in batch:
        try:
            loaded.append(load_item(item, geometry, max_pixels=plan.max_pixels))
        except InputError as exc:
            failures.append({"key": item.key, "path": item.path, "reason": str(exc)})
    return loaded, failures


def _evaluate_batch(maker: MapMaker, batch: Sequence[Item], plan: Plan) -> dict[str, pd.DataFrame]:
    model = maker.model
    loaded, failures = _load(batch, plan, model.geometry)
    tables: dict[str, list[dict]] = {name: [] for name in BATCH_FILES}
    tables["failures.csv"] = failures
    if loaded:
        _evaluate_loaded(maker, loaded, plan, tables)
    return {name: pd.DataFrame(rows, columns=COLUMNS[name]) for name, rows in tables.items()}


def _evaluate_loaded(
    maker: MapMaker, loaded: list[Loaded], plan: Plan, tables: dict[str, list[dict]]
) -> None:
    model = maker.model
    keys = [one.item.key for one in loaded]
    x = torch.stack([one.sample.tensor for one in loaded]).to(model.device)
    with torch.no_grad():
        probs = torch.softmax(model.module(x).float(), dim=1).cpu().numpy()
    predicted = probs.argmax(axis=1)
    targets = np.array(
        [
            one.item.label if plan.target == "label" and one.item.label is not None else p
            for one, p in zip(loaded, predicted, strict=True)
        ]
    )
    for one, p, t, row in zip(loaded, predicted, targets, probs, strict=True):
        tables["images.csv"].append(
            {
                "key": one.item.key,
                "path": one.item.path,
                "label": one.item.label,
                "label_name": one.item.label_name,
                "target": int(t),
                "predicted": int(p),
                "probability": float(row[t]),
            }
        )
    seed = zlib.crc32(f"{plan.seed}/{keys[0]}".encode())  # the same draws in any shard
    regions = [one.region for one in loaded]
    boxed = np.array([r is not None for r in regions])
    maps = maker.all(plan.methods, x, targets)
    for method, (method_maps, seconds) in maps.items():
        passes = maker.passes[method]
        tables["costs.csv"].append(
            {
                "method": method,
                "images": len(loaded),
                "seconds": seconds,
                "forward": passes.forward,
                "backward": passes.backward,
            }
        )
        values = _measures(maker, method, method_maps, x, targets, regions, boxed, plan, seed)
        for measure, per_image in values.items():
            tables["values.csv"].extend(
                {"key": k, "method": method, "measure": measure, "value": float(v)}
                for k, v, shown in zip(keys, per_image, boxed, strict=True)
                if shown or get_measure(measure).compares != "map-region"
            )
    for i, key in enumerate(keys):  # every pair measure of every two methods, as compare's
        tables["agreement.csv"].extend(
            pair_rows(
                key,
                {m: maps[m][0][i] for m in plan.methods},
                threshold=PAIRS.threshold,
                top=PAIRS.pair_top,
                rng=lambda method, key=key: rng_for(seed, key, method, "top"),
            )
        )


def _measures(
    maker: MapMaker,
    method: str,
    maps: np.ndarray,
    x: torch.Tensor,
    targets: np.ndarray,
    regions: list[np.ndarray | None],
    boxed: np.ndarray,
    plan: Plan,
    seed: int,
) -> dict[str, np.ndarray]:
    """Each measure of the plan on one method's maps: one value per image (a region
    measure's NaN where the image has no region)."""
    batch = ModelBatch(
        model=maker.model.module,
        inputs=x,
        maps=maps,
        targets=targets,
        explain=maker.explain_fn(method),
        seed=seed,
    )
    out = {}
    for name in plan.measures:
        spec = get_measure(name)
        options = dict(plan.options.get(name, {}))
        if spec.compares in ("model", "explainer"):
            out[name] = spec.compute(batch, **options)
        elif spec.compares == "map-only":
            out[name] = spec.compute(maps, **options)
        else:  # map-region: on the images that give one
            values = np.full(len(maps), np.nan)
            if boxed.any():
                chosen = np.stack([r for r in regions if r is not None])
                values[boxed] = spec.compute(maps[boxed], chosen, **options)
            out[name] = values
    return out
