"""CLIP-Dissect's similarity functions between units and concepts.

Every function takes the CLIP concept scores of the probe images (``clip_feats``:
images x concepts, cosine similarities between L2-normalised image and text features)
and the activations of a layer (images x units), and returns units x concepts; a unit's
label is its arg-max concept. Written from the formulas of Oikarinen & Weng (ICLR 2023):

- ``soft_wpmi`` (the default): ``P = softmax(a * clip_feats)`` over concepts; for each unit
  its ``top_k`` images by activation, weighted ``p_i = p_start - (i / top_k)(p_start - p_end)``;
  ``log P(c|unit) = sum_i log(1 + p_i (P[img_i, c] - 1) + min_prob)``;
  ``log P(c) = logsumexp_units log P(c|unit) - log(#units)``;
  score ``= log P(c|unit) - lam * log P(c)``.
- ``wpmi``: the same without soft weights, ``log P(c|unit) = sum_i log(P[img_i, c] + min_prob)``.
- ``cos_similarity``: cosine between a unit's activations and a concept's scores over images.
- ``cos_similarity_cubed``: the same after centring each column and cubing it.
- ``rank_reorder``: how well the ranking of a unit's top images by a concept's score
  reproduces their activations (error of the re-ordered activations, ``p``-th power).

The images x concepts matrix is never built whole: :class:`FactoredScores` computes the
blocks it is asked for from the image and text features, in chunks sized by
``memory_mb``, so memory stays bounded for 113k images x 20k concepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Protocol

import torch
from tqdm.auto import tqdm

from explainlab.dissect.settings import SIMILARITY_PARAMS
from explainlab.errors import ConfigError, InputError

_FLOAT_BYTES = 4


class ConceptScores(Protocol):
    """The images x concepts matrix ``clip_feats``, served in blocks."""

    n_images: int
    n_concepts: int

    def block(self, rows: torch.Tensor | slice, cols: slice = slice(None)) -> torch.Tensor: ...


class DenseScores:
    """A matrix held in memory (tests, small probe sets)."""

    def __init__(self, matrix: torch.Tensor) -> None:
        if matrix.ndim != 2:
            raise InputError(f"concept scores must be images x concepts, got {tuple(matrix.shape)}")
        self.matrix = matrix.float()
        self.n_images, self.n_concepts = self.matrix.shape

    def block(self, rows: torch.Tensor | slice, cols: slice = slice(None)) -> torch.Tensor:
        return self.matrix[rows][:, cols]


class FactoredScores:
    """``clip_feats = normalise(image_features) @ normalise(text_features).T``, by blocks."""

    def __init__(self, image_features: torch.Tensor, text_features: torch.Tensor) -> None:
        if image_features.ndim != 2 or text_features.ndim != 2:
            raise InputError("image and text features must be 2-D (items x dimensions)")
        if image_features.shape[1] != text_features.shape[1]:
            raise InputError(
                f"image features have {image_features.shape[1]} dimensions, "
                f"text features {text_features.shape[1]}: they come from different CLIP models"
            )
        self.images = torch.nn.functional.normalize(image_features.float(), dim=1)
        self.texts = torch.nn.functional.normalize(text_features.float(), dim=1)
        self.n_images, self.n_concepts = len(self.images), len(self.texts)

    def block(self, rows: torch.Tensor | slice, cols: slice = slice(None)) -> torch.Tensor:
        return self.images[rows] @ self.texts[cols].T


SimilarityFn = Callable[..., torch.Tensor]


def _check(scores: ConceptScores, activations: torch.Tensor) -> torch.Tensor:
    if activations.ndim != 2:
        raise InputError(f"activations must be images x units, got {tuple(activations.shape)}")
    if len(activations) != scores.n_images:
        raise InputError(
            f"{len(activations)} images of activations but {scores.n_images} of CLIP features",
            hint="both must come from the same probe images, in the same order",
        )
    if not torch.isfinite(activations).all():
        raise InputError("the activations contain NaN or infinite values")
    return activations.float()


def _need_images(what: str, needed: int, available: int) -> None:
    if needed > available:
        raise ConfigError(
            f"{what} needs {needed} probe images per unit but the probe set has {available}",
            hint="use more probe images (--probe-limit) or lower it in similarity_params",
        )


def _row_chunks(n_rows: int, row_bytes: int, memory_mb: float) -> Iterator[slice]:
    step = max(1, int(memory_mb * 2**20) // max(1, row_bytes))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _weighted_log_likelihood(
    scores: ConceptScores,
    activations: torch.Tensor,
    weights: torch.Tensor,
    *,
    a: float,
    lam: float,
    min_prob: float,
    memory_mb: float,
    desc: str,
) -> torch.Tensor:
    """``log P(c|unit) - lam * log P(c)`` with per-rank weights (all ones: wpmi)."""
    top_k = len(weights)
    n_units, n_concepts = activations.shape[1], scores.n_concepts
    top = torch.topk(activations, k=top_k, dim=0).indices  # top_k x units
    w = weights.view(top_k, 1, 1)
    log_given = torch.empty(n_units, n_concepts)
    # per unit: top_k gathered rows of P, the distinct rows they come from, and the
    # logits those rows are computed from (the log terms are computed in place)
    unit_bytes = 3 * top_k * n_concepts * _FLOAT_BYTES
    for units in tqdm(
        list(_row_chunks(n_units, unit_bytes, memory_mb)), desc=desc, unit="chunk", leave=False
    ):
        ids = top[:, units]
        distinct, inverse = torch.unique(ids, return_inverse=True)
        probs = torch.softmax(a * scores.block(distinct), dim=1)  # each image over concepts
        gathered = probs[inverse]  # top_k x chunk units x concepts
        del probs
        # log(1 + w (P - 1) + min_prob), in place
        terms = gathered.sub_(1.0).mul_(w).add_(1.0).add_(min_prob).log_()
        log_given[units] = terms.sum(dim=0)
    log_prior = torch.logsumexp(log_given, dim=0, keepdim=True) - math.log(n_units)
    return log_given - lam * log_prior


def soft_wpmi(
    scores: ConceptScores,
    activations: torch.Tensor,
    *,
    top_k: int = 100,
    a: float = 10.0,
    lam: float = 1.0,
    min_prob: float = 1e-7,
    p_start: float = 0.998,
    p_end: float = 0.97,
    memory_mb: float = 512,
    seed: int = 0,
) -> torch.Tensor:
    activations = _check(scores, activations)
    top_k = int(top_k)
    _need_images("soft_wpmi (top_k)", top_k, scores.n_images)
    weights = p_start - torch.arange(top_k, dtype=torch.float32) / top_k * (p_start - p_end)
    return _weighted_log_likelihood(
        scores,
        activations,
        weights,
        a=a,
        lam=lam,
        min_prob=min_prob,
        memory_mb=memory_mb,
        desc="soft_wpmi",
    )


def wpmi(
    scores: ConceptScores,
    activations: torch.Tensor,
    *,
    top_k: int = 28,
    a: float = 2.0,
    lam: float = 0.6,
    min_prob: float = 1e-7,
    memory_mb: float = 512,
    seed: int = 0,
) -> torch.Tensor:
    activations = _check(scores, activations)
    top_k = int(top_k)
    _need_images("wpmi (top_k)", top_k, scores.n_images)
    # weight 1: log(1 + 1 * (P - 1) + min_prob) = log(P + min_prob)
    return _weighted_log_likelihood(
        scores,
        activations,
        torch.ones(top_k),
        a=a,
        lam=lam,
        min_prob=min_prob,
        memory_mb=memory_mb,
        desc="wpmi",
    )


def cos_similarity(
    scores: ConceptScores, activations: torch.Tensor, *, memory_mb: float = 512, seed: int = 0
) -> torch.Tensor:
    activations = _check(scores, activations)
    n_concepts = scores.n_concepts
    dots = torch.zeros(activations.shape[1], n_concepts)
    sq_norms = torch.zeros(n_concepts)
    for rows in _row_chunks(scores.n_images, 2 * n_concepts * _FLOAT_BYTES, memory_mb):
        block = scores.block(rows)
        dots += activations[rows].T @ block
        sq_norms += (block * block).sum(dim=0)
    # A dead unit (all zero) gets 0 everywhere instead of the reference's NaN.
    unit_norms = activations.norm(dim=0).clamp_min(1e-12)
    return dots / (unit_norms[:, None] * sq_norms.sqrt().clamp_min(1e-12)[None, :])


def cos_similarity_cubed(
    scores: ConceptScores,
    activations: torch.Tensor,
    *,
    min_norm: float = 1e-3,
    memory_mb: float = 512,
    seed: int = 0,
) -> torch.Tensor:
    activations = _check(scores, activations)
    n_images, n_concepts = scores.n_images, scores.n_concepts
    row_bytes = 3 * n_concepts * _FLOAT_BYTES  # the block and its centred cube
    means = torch.zeros(n_concepts)
    for rows in _row_chunks(n_images, row_bytes, memory_mb):
        means += scores.block(rows).sum(dim=0)
    means /= n_images
    units = (activations - activations.mean(dim=0, keepdim=True)) ** 3
    units = units / units.norm(dim=0, keepdim=True).clamp_min(min_norm)
    dots = torch.zeros(activations.shape[1], n_concepts)
    sq_norms = torch.zeros(n_concepts)
    for rows in _row_chunks(n_images, row_bytes, memory_mb):
        cubed = (scores.block(rows) - means) ** 3
        dots += units[rows].T @ cubed
        sq_norms += (cubed * cubed).sum(dim=0)
    return dots / sq_norms.sqrt().clamp_min(min_norm)[None, :]


def rank_reorder(
    scores: ConceptScores,
    activations: torch.Tensor,
    *,
    p: float = 3.0,
    top_fraction: float = 0.05,
    scale_p: float = 0.5,
    memory_mb: float = 512,
    seed: int = 0,
) -> torch.Tensor:
    """Minus the re-ordering error, divided by the concept's mean score ** ``scale_p``.

    For each unit, its ``top_n = int(N * top_fraction)`` images by activation; for each
    concept, those images are ranked by the concept's score and given the activations
    of the same ranks; the error is ``mean |activation - reordered| ** p``, divided by the
    same error under 5 random orderings (a per-unit scale, seeded here). A concept whose
    mean score over the top images is not positive is clamped to 1e-8 there (the
    reference gives NaN)."""
    activations = _check(scores, activations)
    n_images, n_concepts = scores.n_images, scores.n_concepts
    top_n = int(n_images * top_fraction)
    if top_n < 1:
        _need_images(
            f"rank_reorder (top_fraction={top_fraction})", math.ceil(1 / top_fraction), n_images
        )
    values, ids = torch.topk(activations, k=top_n, dim=0)  # descending per unit
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(activations.shape[1], n_concepts)
    # per concept column: scores, two argsorts and the re-ordered activations
    col_bytes = 4 * top_n * 8
    col_step = max(1, int(memory_mb * 2**20) // col_bytes)
    for unit in tqdm(range(activations.shape[1]), desc="rank_reorder", unit="unit", leave=False):
        target = values[:, unit : unit + 1]
        ascending = target.flip(0)
        shuffled = torch.cat(
            [ascending[torch.randperm(top_n, generator=generator)] for _ in range(5)], dim=1
        )
        baseline = ((ascending - shuffled).abs() ** p).mean()
        for start in range(0, n_concepts, col_step):
            cols = slice(start, min(n_concepts, start + col_step))
            block = scores.block(ids[:, unit], cols)  # top_n x concepts
            mean_score = block.mean(dim=0)
            ranks = block.argsort(dim=0).argsort(dim=0)  # 0 = lowest score
            reordered = ascending[:, 0][ranks]
            error = ((target - reordered).abs() ** p).mean(dim=0) / baseline
            out[unit, cols] = -error / mean_score.clamp_min(1e-8) ** scale_p
    return out


SIMILARITY_FUNCTIONS: dict[str, SimilarityFn] = {
    "soft_wpmi": soft_wpmi,
    "wpmi": wpmi,
    "cos_similarity": cos_similarity,
    "cos_similarity_cubed": cos_similarity_cubed,
    "rank_reorder": rank_reorder,
}


def get_similarity(name: str) -> SimilarityFn:
    try:
        return SIMILARITY_FUNCTIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown similarity function {name!r}",
            hint=f"choose one of {', '.join(SIMILARITY_FUNCTIONS)}",
        ) from None


def compute_similarity(
    name: str,
    scores: ConceptScores,
    activations: torch.Tensor,
    params: dict[str, float] | None = None,
    *,
    memory_mb: float = 512,
    seed: int = 0,
) -> torch.Tensor:
    """Units x concepts similarity by the function called ``name`` (defaults + ``params``)."""
    fn = get_similarity(name)
    params = dict(params or {})
    unknown = sorted(set(params) - set(SIMILARITY_PARAMS[name]))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(unknown)} for {name}",
            hint=f"its parameters: {', '.join(SIMILARITY_PARAMS[name]) or 'none'}",
        )
    arguments = {**SIMILARITY_PARAMS[name], **params}
    with torch.inference_mode():
        return fn(scores, activations, memory_mb=memory_mb, seed=seed, **arguments)
