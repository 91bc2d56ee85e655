"""The model-parameter randomisation test (Adebayo et al., "Sanity checks for saliency
maps", 2018), cascading from the top layer down.

The layers of a copy of the model are re-initialised one block at a time, from the
logits towards the input, and after each step every explainer explains the same class
again. An explanation that depends on what the model learned must change as its
weights are destroyed; one that barely changes reflects the image (edges, colours),
not the model. Similarity with the original map: every sanity measure of the registry
(:mod:`explainlab.measures.sanity`: Spearman's rank correlation of the raw maps, and SSIM
of the min-max normalised maps, as in the paper).

Re-initialising uses each layer's own ``reset_parameters()`` (as quantus' randomisation
test does), seeded per step, so every image sees the same randomised weights. Given
Quantus' seeds, the Spearman values equal Quantus' ``MPRT`` (top down) on the same layers
(tests/test_measures_model.py::test_model_parameter_randomisation_equals_quantus_mprt).

Explainers are plain callables ``fn(model_module, sample, target) -> (224, 224) map``;
the class ``target`` stays the original model's class along the cascade, so a change
of the map is not merely a change of the explained class."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explainlab.images import Sample
from explainlab.measures import measures
from explainlab.models import resolve_layer

Explainer = Callable[[nn.Module, Sample, int], np.ndarray]
ORIGINAL = "original"


def cascade_blocks(module: nn.Module) -> list[str]:
    """The model's blocks from the top (logits) down: its top-level children that hold
    parameters, with a ``Sequential`` of several children (ResNet's ``layerN``, timm's
    ``blocks``) split into those children. Registration order is taken as forward order,
    which holds for torchvision ResNets and timm EfficientNets."""
    blocks = []
    for name, child in module.named_children():
        if not any(True for _ in child.parameters()):
            continue
        if isinstance(child, nn.Sequential) and len(child) > 1:
            blocks += [
                f"{name}.{sub}"
                for sub, c in child.named_children()
                if any(True for _ in c.parameters())
            ]
        else:
            blocks.append(name)
    return blocks[::-1]


def randomise_block(module: nn.Module, name: str, seed: int) -> int:
    """Re-initialise every layer of block ``name`` in place; return how many were reset."""
    block = resolve_layer(module, name)
    devices = [p.device for p in block.parameters()]
    cuda = sorted({d.index or 0 for d in devices if d.type == "cuda"})
    reset = 0
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.manual_seed(seed)
        for layer in block.modules():
            if callable(getattr(layer, "reset_parameters", None)):
                layer.reset_parameters()
                reset += 1
    return reset


def similarity(original: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Every sanity measure of ``other`` against ``original``, in the registry's order."""
    return {spec.name: spec.compute(original, other) for spec in measures("sanity")}


@dataclass(frozen=True, kw_only=True)
class SanityRow:
    key: str
    method: str
    step: int  # 0: the original model; k: the k top blocks randomised
    block: str  # the block randomised at this step ("original" at step 0)
    similarity: dict[str, float]  # sanity measure -> value

    def row(self) -> dict[str, object]:
        """Its row of sanity.csv: one column per sanity measure."""
        return {
            "key": self.key,
            "method": self.method,
            "step": self.step,
            "block": self.block,
            **self.similarity,
        }


def sanity_check(
    module: nn.Module,
    sample: Sample,
    target: int,
    explainers: Mapping[str, Explainer],
    blocks: Sequence[str],
    *,
    seed: int = 0,
    progress: Callable[[], None] | None = None,
) -> tuple[list[SanityRow], dict[str, list[np.ndarray]]]:
    """Rows for the original (step 0) and every cascade step; and the maps per method."""
    model = copy.deepcopy(module).eval()  # never touch the caller's weights
    maps: dict[str, list[np.ndarray]] = {name: [] for name in explainers}
    rows: list[SanityRow] = []
    for step, block in enumerate([ORIGINAL, *blocks]):
        if step:
            randomise_block(model, block, seed + step)
        for name, explain in explainers.items():
            saliency = np.asarray(explain(model, sample, target), dtype=np.float64)
            if saliency.shape != sample.crop.shape[:2]:
                raise ValueError(
                    f"explainer {name!r} returned a map of shape {saliency.shape}, "
                    f"expected {sample.crop.shape[:2]}"
                )
            maps[name].append(saliency)
            values = similarity(maps[name][0], saliency)
            rows.append(
                SanityRow(key=sample.key, method=name, step=step, block=block, similarity=values)
            )
            if progress:
                progress()
    return rows, maps
