"""An evaluation spread over a Ray cluster (``explainlab evaluate --ray ADDRESS``): the
items cut into shards between batches (:func:`~explainlab.evaluation.shard.split`), one
Ray task per shard running :func:`~explainlab.evaluation.shard.evaluate_shard` (the same
code path as one process) on its worker, the shard's files sent back to the driver and
written under ``<out>/shards/``, where :func:`~explainlab.evaluation.merge.merge_shards`
reads them. No shared file system is needed for the results: a task evaluates into a
temporary folder on its worker and returns the files (small CSVs). The images are read by
the workers at the paths the driver found them (a shared mount or a copy on each machine),
and the model is rebuilt on each worker: a registered or named model from its weights
there, a module given in memory travels with the task.

A rerun skips the shards already finished in ``<out>`` and submits only the others; an
interrupt (Ctrl-C) cancels the outstanding tasks and keeps the finished shards. Ray is
imported here only, inside the functions: ``import explainlab`` never loads it."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from explainlab.errors import ConfigError, InputError
from explainlab.evaluation.dataset import Item
from explainlab.evaluation.plan import Plan
from explainlab.evaluation.shard import evaluate_shard, shard_stage, split
from explainlab.images import Geometry
from explainlab.models import LoadedModel, wrap

INSTALL = "pip install explainlab[ray]"
MIN_SHARDS = 2  # even on a one-CPU cluster: the shards are what a rerun skips


@dataclass(frozen=True)
class PortableModel:
    """A loaded model as a worker rebuilds it: its spec's build (a registered or named
    model reads its weights on the worker; a wrapped module travels inside it) and what
    the driver found when it loaded it (geometry, class names, CAM layer)."""

    name: str
    build: Callable[[], nn.Module]
    geometry: Geometry
    class_names: tuple[str, ...]
    layer: str

    @classmethod
    def of(cls, model: LoadedModel) -> PortableModel:
        spec = model.spec
        return cls(
            spec.name, spec.build, model.geometry, tuple(model.class_names), spec.target_layer
        )

    def load(self, device: str) -> LoadedModel:
        return wrap(
            self.build(),
            geometry=self.geometry,
            classes=list(self.class_names),
            layer=self.layer,
            name=self.name,
            device=device,
        )


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"evaluating on a Ray cluster needs Ray: {INSTALL}",
            hint="or leave out --ray to evaluate in this process",
        ) from None
    return ray


def evaluate_on_ray(
    model: LoadedModel,
    items: Sequence[Item],
    plan: Plan,
    folder: str | Path,
    *,
    address: str = "auto",
    shards: int | None = None,
    device: str = "auto",
    progress: bool = True,
    on_shard: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Evaluate ``items`` with ``plan`` on the Ray cluster at ``address`` ("auto": the one
    this machine belongs to, else a new one on it; a cluster this process is connected to
    already is used as it is), in ``shards`` shards (default: one per GPU of the cluster,
    else per CPU, at least two), into ``folder/shard-XXXX``; returns the shard folders.
    ``on_shard(images done, images)`` after each shard a task computed."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == "auto" else address, logging_level="ERROR")
    try:
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        parts = split(items, shards or max(gpus or cpus, MIN_SHARDS), plan.batch_size)
        folders = [Path(folder) / f"shard-{i:04d}" for i in range(len(parts))]
        todo = [
            i for i, part in enumerate(parts) if not shard_stage(folders[i], part, plan).complete
        ]
        if todo:
            task = ray.remote(_evaluate_remote).options(num_cpus=1, num_gpus=1 if gpus else 0)
            shipped = ray.put(PortableModel.of(model))
            pending = {task.remote(shipped, parts[i], plan, device): i for i in todo}
            _collect(ray, pending, parts, folders, plan, progress, on_shard)
        return folders
    finally:
        if started:
            ray.shutdown()


def _collect(
    ray: Any,
    pending: dict[Any, int],
    parts: list[list[Item]],
    folders: list[Path],
    plan: Plan,
    progress: bool,
    on_shard: Callable[[int, int], None] | None,
) -> None:
    """Write each shard as its task returns; a task's error is raised once the others
    are in (what they finished is kept); an interrupt cancels those still out."""
    from tqdm import tqdm

    total = sum(map(len, parts))
    done = total - sum(len(parts[i]) for i in pending.values())
    errors = []
    with tqdm(
        total=total,
        initial=done,
        unit="image",
        desc=f"evaluate on Ray, {len(pending)} of {len(parts)} shards",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ready[0])
                try:
                    files = ray.get(ready[0])
                except ray.exceptions.RayError as exc:
                    errors.append(exc)
                    continue
                _write_shard(files, folders[index], parts[index], plan)
                done += len(parts[index])
                bar.update(len(parts[index]))
                if on_shard is not None:
                    on_shard(done, total)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
    if errors:
        cause = getattr(errors[0], "cause", None)
        raise (cause if isinstance(cause, Exception) else errors[0]) from errors[0]


def _write_shard(files: dict[str, bytes], folder: Path, items: list[Item], plan: Plan) -> None:
    """The files a task returned, made ``folder`` in one rename (the shard's own stage:
    an old or partial folder of another plan is replaced)."""
    stage = shard_stage(folder, items, plan)
    stage.reset()
    partial = stage.folder
    for name, data in files.items():
        path = partial / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    stage.commit()


def _evaluate_remote(
    model: PortableModel, items: list[Item], plan: Plan, device: str
) -> dict[str, bytes]:
    """A Ray task: one shard evaluated in a temporary folder on this worker; its files
    (relative path -> bytes) returned."""
    if items and not any(os.path.exists(item.path) for item in items):
        raise InputError(
            f"worker {socket.gethostname()}: none of this shard's {len(items)} images is "
            f"here (the first: {items[0].path})",
            hint="give every machine of the cluster the images at the same path "
            "(a shared mount or a copy)",
        )
    with tempfile.TemporaryDirectory(prefix="explainlab-shard-") as tmp:
        shard = evaluate_shard(
            model.load(device), items, Path(tmp) / "shard", plan, device=device, progress=False
        )
        return {
            path.relative_to(shard.folder).as_posix(): path.read_bytes()
            for path in sorted(shard.folder.rglob("*"))
            if path.is_file()
        }
