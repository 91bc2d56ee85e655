"""Deletion and insertion curves (Petsiuk et al., RISE, 2018) against a random order.

Deletion: pixels are replaced by a substrate (default: the normalisation mean, as in
RISE) from the most to the least salient, and the probability of the explained class
is read after each step; a faithful map makes it fall fast (low AUC). Insertion:
pixels of the image are revealed on a substrate (default: a blurred copy, as in RISE)
in the same order; a faithful map makes it rise fast (high AUC). The baseline is the
same curve for random orders of ``patch``-sized squares (spatially coherent like the
maps, where single random pixels would act as high-frequency noise).

Why not pytorch-grad-cam's metrics or quantus: pytorch-grad-cam's
``PerturbationConfidenceMetric`` with ``RemoveMostRelevantFirst`` is the same
operation for one removal fraction at a time, but it selects pixels with
``np.percentile`` and ``map < threshold``, which assumes a map without ties. LIME's
map is constant over each superpixel and a Grad-CAM is 0 over large areas, so the
share of pixels it removes jumps from superpixel to superpixel and is not the nominal
one, and the random baseline needs a tie-free order anyway. We keep exact pixel counts
(ties broken by a seeded random order) and put every step of every order into shared
batches. A test checks that, on a map without ties, our probabilities equal the
library's at its own fractions (within 1e-4; the benchmark measured 1e-6); speed is
not the reason (``benchmarks/compare.py``: same time on the CPU). quantus is not
installed here and would add a large dependency for the same curve. ROAD
(pytorch-grad-cam's noisy-linear imputation) answers a different question and needs a
sparse solve per step and image.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from explainlab import masks
from explainlab.images import Sample, to_tensor
from explainlab.measures.faithfulness import auc
from explainlab.models import LoadedModel

KINDS: tuple[str, ...] = ("deletion", "insertion")
RANDOM = "random"
BLUR_KERNEL, BLUR_SIGMA = 11, 5.0  # RISE's insertion substrate


@dataclass(frozen=True, eq=False, kw_only=True)
class Curve:
    key: str
    method: str
    kind: str  # "deletion" or "insertion"
    fractions: np.ndarray  # share of pixels deleted / inserted, 0..1
    probs: np.ndarray  # probability of the explained class at each fraction

    @property
    def auc(self) -> float:
        return auc(self.fractions, self.probs)


def pixel_counts(steps: int, total: int) -> np.ndarray:
    """``steps + 1`` pixel counts from 0 to ``total``, evenly spaced."""
    return np.round(np.linspace(0, total, steps + 1)).astype(np.int64)


def substrate(model: LoadedModel, sample: Sample, kind: str) -> torch.Tensor:
    """The normalised (3, H, W) image that deleted pixels become / insertion starts from."""
    if kind == "mean":  # the normalisation mean: zero after normalising
        return torch.zeros_like(sample.tensor)
    if kind == "black":
        return to_tensor(np.zeros_like(sample.crop), model.geometry)
    if kind == "blur":
        return TF.gaussian_blur(sample.tensor, [BLUR_KERNEL, BLUR_KERNEL], [BLUR_SIGMA, BLUR_SIGMA])
    raise ValueError(f"unknown substrate {kind!r}")


def random_orders(
    shape: tuple[int, int], patch: int, repeats: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``repeats`` random pixel orders: squares of ``patch`` pixels in random order."""
    h, w = shape
    rows = np.arange(h)[:, None] // patch
    cols = np.arange(w)[None, :] // patch
    patch_id = rows * (-(-w // patch)) + cols
    orders = []
    for _ in range(repeats):
        priority = rng.permutation(int(patch_id.max()) + 1)
        orders.append(masks.rank_order(priority[patch_id], rng))
    return orders


def perturbed_probabilities(
    model: LoadedModel,
    start: torch.Tensor,
    fill: torch.Tensor,
    orders: Sequence[np.ndarray],
    counts: np.ndarray,
    target: int,
    *,
    batch_size: int = 32,
) -> np.ndarray:
    """Probability of ``target`` when the first ``counts[j]`` pixels of ``orders[i]`` of
    ``start`` (3, H, W) are replaced by ``fill``: an array (len(orders), len(counts)).

    Every (order, count) image goes through the model in shared batches."""
    _, h, w = start.shape
    ranks = []
    for order in orders:
        rank = np.empty(h * w, dtype=np.int64)
        rank[order] = np.arange(h * w)
        ranks.append(torch.from_numpy(rank.reshape(h, w)))
    jobs = [(i, j) for i in range(len(orders)) for j in range(len(counts))]
    out = np.empty((len(orders), len(counts)), dtype=np.float64)
    for chunk in _chunks(jobs, batch_size):
        taken = torch.stack([ranks[i] < int(counts[j]) for i, j in chunk])[:, None]
        batch = torch.where(taken, fill[None], start[None])
        probs = model.probabilities(batch)[:, target].double().numpy()  # its fastest calls
        for (i, j), p in zip(chunk, probs, strict=True):
            out[i, j] = p
    return out


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def curves(
    model: LoadedModel,
    sample: Sample,
    target: int,
    orders: Mapping[str, np.ndarray],
    random: Sequence[np.ndarray],
    *,
    steps: int,
    deletion_substrate: str = "mean",
    insertion_substrate: str = "blur",
    batch_size: int = 32,
) -> list[Curve]:
    """Deletion and insertion curves of every named order, and of the random baseline
    (the mean curve of the ``random`` orders, named ``random``)."""
    x = sample.tensor
    _, h, w = x.shape
    counts = pixel_counts(steps, h * w)
    fractions = counts / (h * w)
    names = list(orders)
    everything = [orders[n] for n in names] + list(random)
    out = []
    for kind in KINDS:
        if kind == "deletion":
            start, fill = x, substrate(model, sample, deletion_substrate)
        else:
            start, fill = substrate(model, sample, insertion_substrate), x
        probs = perturbed_probabilities(
            model, start, fill, everything, counts, target, batch_size=batch_size
        )
        out += [
            Curve(key=sample.key, method=n, kind=kind, fractions=fractions, probs=probs[i])
            for i, n in enumerate(names)
        ]
        if random:
            out.append(
                Curve(
                    key=sample.key,
                    method=RANDOM,
                    kind=kind,
                    fractions=fractions,
                    probs=probs[len(names) :].mean(0),
                )
            )
    return out
