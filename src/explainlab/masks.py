"""Masks from maps, and the measures between two masks or a map and a mask: the one
module every IoU of explainlab comes from (LIME's masks, the scoreboard, the tuner, the
comparison).

Conventions (shared by every measure here):

- a CAM is min-max normalised before thresholding, and binarised as ``map >= t``;
- a LIME mask is the pixels of the K superpixels with the largest positive weight;
- IoU and Dice of two empty masks are 0, as scikit-learn's ``jaccard_score`` and
  ``f1_score`` return them (a test checks ours against those on the same masks): an
  empty mask never counts as agreement;
- ties in a ranking (the zero floor of a Grad-CAM, the constant value of a LIME
  superpixel) are broken by a seeded random order, not by raster order, so that no
  part of the image is systematically preferred.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats


def normalise(saliency: np.ndarray) -> np.ndarray:
    """Min-max normalise to [0, 1]; a constant map becomes all zeros."""
    saliency = np.asarray(saliency, dtype=np.float64)
    low, high = float(saliency.min()), float(saliency.max())
    if high - low <= 0.0:
        return np.zeros_like(saliency)
    return (saliency - low) / (high - low)


def threshold_mask(saliency: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels whose normalised value is at least ``threshold``."""
    return normalise(saliency) >= threshold


def rank_order(saliency: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat pixel indices from the most to the least salient, ties in random order."""
    flat = np.asarray(saliency, dtype=np.float64).ravel()
    tie_break = rng.permutation(flat.size)
    # lexsort: the last key is the primary one.
    return np.lexsort((tie_break, -flat))


def top_mask(saliency: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """The ``count`` most salient pixels (exactly that many, ties broken at random)."""
    return first_of_order(rank_order(saliency, rng), count, saliency.shape)


def first_of_order(order: np.ndarray, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """The mask of the first ``count`` flat pixel indices of ``order`` (a :func:`rank_order`)."""
    if not 0 <= count <= order.size:
        raise ValueError(f"count {count} is outside 0..{order.size}")
    mask = np.zeros(order.size, dtype=bool)
    mask[order[:count]] = True
    return mask.reshape(shape)


def area_matched_mask(
    saliency: np.ndarray, reference: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The map's top pixels covering the same area as the ``reference`` mask."""
    return top_mask(saliency, int(np.count_nonzero(reference)), rng)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (0 when both are empty)."""
    a, b = _pair(a, b)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A∩B| / (|A| + |B|) (0 when both are empty)."""
    a, b = _pair(a, b)
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return float(2 * np.count_nonzero(a & b) / total) if total else 0.0


def chance_iou(area_a: float, area_b: float) -> float:
    """Expected IoU of two independent random masks covering fractions ``area_a``, ``area_b``.

    A reference level: two masks that each cover half the picture overlap with IoU 1/3
    without any agreement at all."""
    inter = area_a * area_b
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def iou_sweep(
    saliency: np.ndarray, reference: np.ndarray, thresholds: Sequence[float]
) -> np.ndarray:
    """IoU of ``map >= t`` (normalised map) with ``reference`` for every threshold ``t``."""
    norm = normalise(saliency)
    return np.array([iou(norm >= t, reference) for t in thresholds])


def pointing_game(saliency: np.ndarray, reference: np.ndarray) -> float:
    """1.0 if the map's peak lies inside ``reference``, else 0.0.

    The peak is the first maximal pixel in raster order (``np.argmax``); a normalised
    CAM upsampled bilinearly practically always has a single maximum."""
    saliency = np.asarray(saliency)
    _pair(saliency, reference)
    return float(np.asarray(reference, dtype=bool).ravel()[int(np.argmax(saliency))])


def top_positive_mask(segments: np.ndarray, weights: Mapping[int, float], k: int) -> np.ndarray:
    """The pixels of the ``k`` superpixels with the largest positive weight (lime's
    positive_only mask rule: weight > 0, largest first)."""
    positive = sorted(((w, s) for s, w in weights.items() if w > 0), reverse=True)[:k]
    return np.isin(segments, [s for _, s in positive])


def superpixel_map(segments: np.ndarray, weights: Mapping[int, float]) -> np.ndarray:
    """Each pixel carries its superpixel's weight (0 for a superpixel without one): how
    LIME ranks pixels."""
    ids = np.arange(int(np.max(segments)) + 1)
    lookup = np.array([weights.get(int(i), 0.0) for i in ids], dtype=np.float64)
    return lookup[segments]


def segment_means(saliency: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The mean of ``saliency`` over each segment id 0..max (NaN for an id with no pixels)."""
    ids = np.asarray(segments).ravel()
    counts = np.bincount(ids)
    sums = np.bincount(ids, weights=np.asarray(saliency, dtype=np.float64).ravel())
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value; (nan, nan) when either side is constant."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    result = stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    return a.astype(bool, copy=False), b.astype(bool, copy=False)
