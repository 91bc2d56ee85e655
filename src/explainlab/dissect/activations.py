"""Activations of the target model's layers on the probe images, pooled per channel.

Forward hooks on the named layers (resolved by name, never ``eval``) record each
channel's spatial mean (``avg``) or maximum (``max``) of 4-D outputs; 2-D outputs (``fc``)
are kept as they are; 3-D token outputs (vision transformers) keep the class token, as
the reference does. Hooks live in a ``with`` block and are always removed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from explainlab.errors import InputError
from explainlab.images import IMAGENET_GEOMETRY, Geometry
from explainlab.models import canonical_layer_name, load_model, resolve_layer


@dataclass(eq=False, kw_only=True)
class TargetModel:
    """The network being dissected."""

    name: str
    module: nn.Module
    geometry: Geometry = IMAGENET_GEOMETRY  # the model's own evaluation transform
    weights: str = ""  # where the weights come from, said in every output
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def random_weights(self) -> bool:
        return self.weights.startswith("random")


def load_target(name: str, device: str | torch.device = "cpu") -> TargetModel:
    """A model of the registry (``resnet18``, ``resnet18_places365``, ...)."""
    loaded = load_model(name, device)
    return TargetModel(
        name=name,
        module=loaded.module,
        geometry=loaded.geometry,
        weights=loaded.spec.description,
        device=loaded.device,
    )


def random_target(name: str, seed: int = 0) -> TargetModel:
    """A registry model's architecture with seeded random weights: a labelled stand-in
    for benchmarks where the real weights cannot be had offline."""
    import torchvision

    from explainlab.models import get_spec

    spec = get_spec(name)
    if not name.startswith("resnet"):
        raise InputError(f"no random stand-in for {name!r}", hint="use a ResNet model")
    arch = name.split("_", 1)[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = torchvision.models.get_model(arch, weights=None, num_classes=spec.num_classes)
    return TargetModel(
        name=name,
        module=module.eval(),
        geometry=spec.geometry(),
        weights=f"random weights (stand-in for {spec.description}, seed {seed})",
    )


def pool_output(output: object, pooling: str, layer: str) -> torch.Tensor:
    if not isinstance(output, torch.Tensor):
        raise InputError(
            f"layer {layer!r} returns {type(output).__name__}, not a tensor",
            hint="choose a module whose output is a single tensor (a block, a conv, fc)",
        )
    if output.ndim == 4:
        return output.mean(dim=(2, 3)) if pooling == "avg" else output.amax(dim=(2, 3))
    if output.ndim == 3:
        return output[:, 0]
    if output.ndim == 2:
        return output
    raise InputError(f"layer {layer!r} has {output.ndim}-D outputs; expected 2-D, 3-D or 4-D")


def _hook(store: list[torch.Tensor], pooling: str, layer: str, _module, _inputs, output) -> None:
    store.append(pool_output(output, pooling, layer).detach().float().cpu())


@contextlib.contextmanager
def recording(
    module: nn.Module, layers: Sequence[str], pooling: str
) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Hooks on ``layers`` for the duration of the block; yields layer -> pooled batches."""
    resolved = {name: resolve_layer(module, name) for name in layers}
    store: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    handles = []
    try:
        for name, layer in resolved.items():
            handles.append(layer.register_forward_hook(partial(_hook, store[name], pooling, name)))
        yield store
    finally:
        for handle in handles:
            handle.remove()


def canonical_layers(module: nn.Module, layers: Sequence[str]) -> dict[str, str]:
    """Given name -> ``named_modules`` name; unknown names raise ``UnknownNameError``."""
    return {name: canonical_layer_name(module, name) for name in layers}


@torch.inference_mode()
def record_activations(
    target: TargetModel,
    layers: Sequence[str],
    loader: DataLoader,
    pooling: str,
    *,
    desc: str = "activations",
) -> tuple[dict[str, np.ndarray], np.ndarray, list[tuple[int, str]]]:
    """Pooled activations (images x units) per layer for the loader's images, a mask of
    the images that could be read, and (index, error) for those that could not."""
    module = target.module.eval()
    valid: list[np.ndarray] = []
    failures: list[tuple[int, str]] = []
    with recording(module, layers, pooling) as store:
        for indices, batch, errors in tqdm(loader, desc=desc, unit="batch", leave=False):
            module(batch.to(target.device))
            ok = np.array([not e for e in errors], dtype=bool)
            valid.append(ok)
            failures.extend((int(i), e) for i, e in zip(indices, errors, strict=True) if e)
    arrays = {name: torch.cat(store[name]).numpy() for name in layers}
    return arrays, np.concatenate(valid), failures
