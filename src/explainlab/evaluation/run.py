"""``evaluate`` (``xl.evaluate``): the report card of methods on a dataset, in one
process: the items read, evaluated as one shard under ``<out>/shards/``, merged into
``<out>``. Rerun on the same folder, it resumes from the last finished batch."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from explainlab.evaluation.dataset import Item, read_items
from explainlab.evaluation.merge import Evaluation, merge_shards
from explainlab.evaluation.plan import KINDS, Plan
from explainlab.evaluation.shard import evaluate_shard
from explainlab.models import LoadedModel, load_model, wrap
from explainlab.settings import DEFAULT_MAX_PIXELS

SHARDS = "shards"
SHARD = "shard-0000"  # the one shard of a run in one process


def default_measures(regions: bool) -> tuple[str, ...]:
    """Every measure of a batch; those against a region only when the images give one."""
    from explainlab.measures import measure_names

    kinds = KINDS if regions else tuple(k for k in KINDS if k != "map-region")
    return tuple(name for kind in kinds for name in measure_names(kind))


def evaluate(
    model: nn.Module | LoadedModel | str,
    images: str | Path | Sequence[str | Path] | Sequence[Item],
    methods: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    out: str | Path | None = None,
    *,
    batch_size: int = 16,
    target: str = "predicted",
    layer: str | None = None,
    impl: str = "fast",
    seed: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    attributions: Mapping[str, Any] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    layout: str = "auto",
    device: str = "auto",
    progress: bool = True,
    report: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    ray: str | None = None,
    shards: int | None = None,
) -> Evaluation:
    """Evaluate ``methods`` (default: the cheap ones) with ``measures`` (default: every
    measure of a batch, those of a region when the images give one) on ``images`` (a
    folder, an ImageFolder tree, a CSV of paths with labels and boxes or masks,
    ``"mission"``, or a list of files or :class:`~explainlab.evaluation.dataset.Item`) and
    ``model`` (an ``nn.Module``, wrapped with ImageNet's geometry; a loaded model; a name).
    Writes the shard and the card into ``out`` (with ``card.png`` and
    ``report_card.pdf`` when ``report``); ``out`` None: a temporary folder, the tables
    returned in memory only. ``options``: keyword arguments of measures
    (``{"infidelity": {"samples": 4}}``); ``attributions``: the gradient methods'
    settings; ``on_batch(done, total)`` after each batch. ``ray`` ("auto" or a cluster's
    address): the items in ``shards`` shards, one Ray task each (see
    :mod:`~explainlab.evaluation.distributed`; ``on_batch`` then after each shard)."""
    from explainlab.methods import default_methods

    if isinstance(model, nn.Module):
        model = wrap(model, name=type(model).__name__)
    elif isinstance(model, str):
        model = load_model(model, device)
    if isinstance(images, Sequence) and images and isinstance(images[0], Item):
        items = list(images)
    else:
        items = read_items(images, model.class_names, layout=layout)
    regions = any(item.box is not None or item.mask is not None for item in items)
    plan = Plan(
        methods=tuple(methods or default_methods()),
        measures=tuple(measures or default_measures(regions)),
        batch_size=batch_size,
        target=target,
        layer=layer,
        impl=impl,
        seed=seed,
        options=dict(options or {}),
        attributions=dict(attributions or {}),
        max_pixels=max_pixels,
    )
    ray_run = None if ray is None else {"address": ray, "shards": shards, "device": device}
    if out is None:
        with tempfile.TemporaryDirectory(prefix="explainlab-evaluate-") as folder:
            return _run(model, items, plan, Path(folder), progress, False, on_batch, None, ray_run)
    return _run(model, items, plan, Path(out), progress, report, on_batch, Path(out), ray_run)


def _run(
    model: LoadedModel,
    items: list[Item],
    plan: Plan,
    folder: Path,
    progress: bool,
    report: bool,
    on_batch: Callable[[int, int], None] | None,
    kept: Path | None,
    ray_run: dict | None,
) -> Evaluation:
    if ray_run is not None:
        from explainlab.evaluation.distributed import evaluate_on_ray

        shards = evaluate_on_ray(
            model, items, plan, folder / SHARDS, progress=progress, on_shard=on_batch, **ray_run
        )
    else:
        shards = [
            evaluate_shard(
                model, items, folder / SHARDS / SHARD, plan, progress=progress, on_batch=on_batch
            ).folder
        ]
    found = merge_shards(shards, folder, title=model.name, figure=report, report=report)
    return Evaluation(found.plan, found.tables, found.card, kept)
