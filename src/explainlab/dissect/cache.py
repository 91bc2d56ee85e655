"""The dissection cache: activations and CLIP features, by keys of what changes them.

Each cached result is ``<root>/<kind>/<key>.npz`` (arrays) beside ``<key>.json`` (what
the key stands for, for people). A long pass over the probe images is computed in
shards of images, each written atomically; an interrupted pass resumes from the
shards already written, and the shards are merged and removed when all are done."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from explainlab import assets, runfolder

Arrays = dict[str, np.ndarray]


def default_cache_root() -> Path:
    """``<EXPLAINLAB_CACHE or ~/.cache/explainlab>/dissect``."""
    return assets.cache_dir().parent / "dissect"


def save_arrays(path: Path, arrays: Arrays) -> Path:
    with runfolder.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_arrays(path: Path) -> Arrays:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


class FeatureCache:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root else default_cache_root()

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{key}.npz"

    def get(self, kind: str, key: str) -> Arrays | None:
        path = self.path(kind, key)
        if not path.is_file():
            return None
        try:
            return load_arrays(path)
        except (OSError, ValueError, EOFError):
            return None  # a damaged file is recomputed, never trusted

    def put(self, kind: str, key: str, arrays: Arrays, about: dict[str, Any]) -> Arrays:
        save_arrays(self.path(kind, key), arrays)
        runfolder.write_json(self.path(kind, key).with_suffix(".json"), about)
        return arrays

    def sharded_pass(
        self,
        key: str,
        n_items: int,
        shard_size: int,
        compute: Callable[[int, int], Arrays],
        *,
        desc: str,
    ) -> Arrays:
        """``compute(start, stop)`` for every shard of ``range(n_items)``, resumable;
        returns the shards' arrays concatenated along the first axis."""
        folder = self.root / "shards" / key
        folder.mkdir(parents=True, exist_ok=True)
        bounds = [(s, min(n_items, s + shard_size)) for s in range(0, n_items, shard_size)]
        names = [folder / f"{start:09d}-{stop:09d}.npz" for start, stop in bounds]
        todo = [(b, n) for b, n in zip(bounds, names, strict=True) if not n.is_file()]
        if len(todo) < len(bounds):
            print(f"{desc}: resuming, {len(bounds) - len(todo)} of {len(bounds)} shards cached")
        for (start, stop), name in tqdm(todo, desc=desc, unit="shard", disable=len(todo) < 2):
            save_arrays(name, compute(start, stop))
        parts = [load_arrays(n) for n in names]
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
        return merged

    def drop_shards(self, key: str) -> None:
        shutil.rmtree(self.root / "shards" / key, ignore_errors=True)

    def describe(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.path(kind, key).with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
