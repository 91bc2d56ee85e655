"""Where a unit fires on its top images: each unit's spatial activation map (h, w) on
each of its top-activating probe images, as NetDissect shows a unit's regions.

The stage pools activations to one number per image; the maps come from one more pass
of the model over the distinct images of the layers' top-image tables only (a few
thousand at most), a forward hook on each layer keeping the unpooled 4-D output. Layers
whose output is not 4-D (``fc``, a transformer's tokens) have no map."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from explainlab.dissect.activations import TargetModel
from explainlab.dissect.probes import probe_loader
from explainlab.models import resolve_layer

MAPS_FILE = "top_maps.npy"  # one layer's maps, in its item folder
MODEL_MAPS = "top_maps.npz"  # every layer's maps, keyed by layer, in dissect/<model>/


def top_grid(top: pd.DataFrame) -> np.ndarray:
    """A layer's ``top_images.csv`` rows as (units, k) probe indices, [unit, rank - 1]."""
    grid = top.pivot(index="unit", columns="rank", values="probe_index")
    return grid.sort_index().sort_index(axis=1).to_numpy(dtype=np.int64)


@contextlib.contextmanager
def _outputs(module: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """The latest batch's output of each layer, for the duration of the block."""
    latest: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_module, _inputs, output) -> None:
            latest[name] = output

        return hook

    handles = [resolve_layer(module, name).register_forward_hook(keep(name)) for name in layers]
    try:
        yield latest
    finally:
        for handle in handles:
            handle.remove()


@torch.inference_mode()
def top_maps(
    target: TargetModel,
    grids: dict[str, np.ndarray],
    paths: Sequence[Path],
    *,
    batch_size: int,
    num_workers: int,
) -> dict[str, np.ndarray]:
    """Layer -> (units, k, h, w) float16: unit u's map on its rank-r image is [u, r - 1].

    ``grids`` gives each layer's (units, k) probe indices (:func:`top_grid`), ``paths``
    the probe set's files; the images go through the model's own transform."""
    images = np.unique(np.concatenate([g.ravel() for g in grids.values()]))
    position = {int(p): i for i, p in enumerate(images)}
    # each layer's (units, k) positions in the pass's order of images
    where = {
        layer: np.vectorize(position.__getitem__, otypes=[np.int64])(grid)
        for layer, grid in grids.items()
    }
    loader = probe_loader(
        [paths[int(i)] for i in images],
        target.geometry.transform,
        batch_size=batch_size,
        num_workers=num_workers,
    )
    maps: dict[str, np.ndarray] = {}
    module = target.module.eval()
    with _outputs(module, list(grids)) as latest:
        start = 0
        for _indices, batch, _errors in loader:
            module(batch.to(target.device))
            stop = start + len(batch)
            for layer, pos in where.items():
                output = latest.get(layer)
                if not isinstance(output, torch.Tensor) or output.ndim != 4:
                    continue
                if layer not in maps:
                    maps[layer] = np.zeros((*pos.shape, *output.shape[2:]), dtype=np.float16)
                units, ranks = np.nonzero((pos >= start) & (pos < stop))
                rows = torch.from_numpy(pos[units, ranks] - start).to(output.device)
                picked = output[rows, torch.from_numpy(units).to(output.device)]
                maps[layer][units, ranks] = picked.float().cpu().numpy().astype(np.float16)
            start = stop
    return maps
