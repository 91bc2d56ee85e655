"""The statistics of the report card, from the per-image tables: per method and measure
the mean with a seeded percentile-bootstrap 95% interval over images; the methods ranked
per measure (in the measure's direction); for each pair of methods a paired Wilcoxon
signed-rank test over the images both have a value on, Holm-corrected for the pairs of
the measure; the agreement of every two methods by every pair measure of the registry
(their means, and the matrix of ``AGREEMENT``'s); the seconds and passes per image of
each method."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explainlab.compare.pairs import pair_means
from explainlab.measures import get_measure

LEVEL = 0.95  # of the intervals
ALPHA = 0.05  # a Holm-corrected p below it: a significant difference
RESAMPLES = 2000
AGREEMENT = "pair_rho"  # the pair measure of the agreement matrix: the maps' pixel ranks


@dataclass(frozen=True, eq=False)
class Card:
    card: pd.DataFrame  # method, measure, direction, n, mean, low, high, rank
    ranks: pd.DataFrame  # measure, rank, method, mean, low, high
    significance: pd.DataFrame  # measure, method_a, method_b, n, p, p_holm, significant, better
    agreement: pd.DataFrame  # method x method: mean of AGREEMENT over the images
    pair_means: pd.DataFrame  # measure, method_a, method_b, images, mean, min, max
    costs: pd.DataFrame  # method, images, seconds_per_image, forward, backward


def bootstrap_interval(
    values: np.ndarray, seed: int, *, resamples: int = RESAMPLES, level: float = LEVEL
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values`` (NaN dropped): the
    ``level`` central share of the means of ``resamples`` resamples with replacement."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: the i-th smallest times (m - i), made
    non-decreasing in that order, at most 1 (NaN stays NaN and does not count)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    kept = np.flatnonzero(np.isfinite(p))
    order = kept[np.argsort(p[kept], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def ranks(means: Sequence[float], direction: str) -> np.ndarray:
    """1 for the best mean (the highest, or the lowest for a "lower is better" measure),
    ties sharing the better rank; NaN where the mean is NaN or the measure has no direction."""
    from scipy.stats import rankdata

    means = np.asarray(means, dtype=np.float64)
    out = np.full(means.shape, np.nan)
    if direction not in ("higher", "lower"):
        return out
    finite = np.isfinite(means)
    keyed = -means[finite] if direction == "higher" else means[finite]
    out[finite] = rankdata(keyed, method="min")
    return out


def paired_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of the Wilcoxon signed-rank test of paired values (1 when they never
    differ; NaN with fewer than two pairs)."""
    from scipy.stats import wilcoxon

    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2:
        return float("nan")
    if np.all(a == b):
        return 1.0
    return float(wilcoxon(a, b).pvalue)


def report_card(
    values: pd.DataFrame,
    agreement: pd.DataFrame,
    costs: pd.DataFrame,
    methods: Sequence[str],
    measures: Sequence[str],
    *,
    seed: int = 0,
) -> Card:
    """The card of ``values`` (key, method, measure, value), ``agreement`` (key,
    method_a, method_b, measure, value: the pair measures) and ``costs`` (per batch: method, images, seconds,
    forward, backward), in the order of ``methods`` and ``measures``."""
    rows, ranked, tests = [], [], []
    for m_index, measure in enumerate(measures):
        spec = get_measure(measure)
        of = values[values["measure"] == measure]
        wide = of.pivot(index="key", columns="method", values="value").sort_index()
        wide = wide.reindex(columns=list(methods))
        stats = []
        for k_index, method in enumerate(methods):
            column = wide[method].to_numpy(dtype=np.float64)
            finite = column[np.isfinite(column)]
            low, high = bootstrap_interval(column, seed + 1000 * m_index + k_index)
            stats.append((method, finite.size, finite.mean() if finite.size else np.nan, low, high))
        order = ranks([s[2] for s in stats], spec.direction)
        for (method, n, mean, low, high), rank in zip(stats, order, strict=True):
            row = dict(measure=measure, method=method, n=n, mean=mean, low=low, high=high)
            rows.append({**row, "direction": spec.direction, "rank": rank})
            ranked.append({**row, "rank": rank})
        tests.extend(_pairs(measure, spec, wide, methods))
    card = pd.DataFrame(rows, columns=_CARD)
    ranks_table = pd.DataFrame(ranked, columns=_RANKS)
    ranks_table = ranks_table.sort_values(
        ["measure", "rank"], kind="stable", key=_measure_order(measures)
    )
    return Card(
        card=card,
        ranks=ranks_table.reset_index(drop=True),
        significance=pd.DataFrame(tests, columns=_SIGNIFICANCE),
        agreement=agreement_matrix(agreement[agreement["measure"] == AGREEMENT], methods),
        pair_means=pair_means(agreement),
        costs=cost_table(costs, methods),
    )


_CARD = ["method", "measure", "direction", "n", "mean", "low", "high", "rank"]
_RANKS = ["measure", "rank", "method", "n", "mean", "low", "high"]
_SIGNIFICANCE = [
    "measure",
    "method_a",
    "method_b",
    "n",
    "mean_difference",
    "p",
    "p_holm",
    "significant",
    "better",
]


def _measure_order(measures: Sequence[str]):
    position = {m: i for i, m in enumerate(measures)}
    return lambda column: column.map(position) if column.name == "measure" else column


def _pairs(measure: str, spec, wide: pd.DataFrame, methods: Sequence[str]) -> list[dict]:
    """One row per pair of methods: the paired test over images, Holm over the pairs."""
    rows = []
    for a, b in itertools.combinations(methods, 2):
        x, y = wide[a].to_numpy(np.float64), wide[b].to_numpy(np.float64)
        both = np.isfinite(x) & np.isfinite(y)
        rows.append(
            {
                "measure": measure,
                "method_a": a,
                "method_b": b,
                "n": int(both.sum()),
                "mean_difference": float((x[both] - y[both]).mean()) if both.any() else np.nan,
                "p": paired_p(x, y),
            }
        )
    for row, adjusted in zip(rows, holm([r["p"] for r in rows]), strict=True):
        significant = bool(adjusted < ALPHA)
        difference = row["mean_difference"]
        better = ""
        if significant and spec.direction in ("higher", "lower") and difference != 0:
            a_better = (difference > 0) == (spec.direction == "higher")
            better = row["method_a"] if a_better else row["method_b"]
        row.update(p_holm=adjusted, significant=significant, better=better)
    return rows


def agreement_matrix(agreement: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Mean over images of each two methods' agreement (1 on the diagonal, NaN for a pair
    never compared), symmetric."""
    square = np.full((len(methods),) * 2, np.nan)
    np.fill_diagonal(square, 1.0)
    matrix = pd.DataFrame(square, index=list(methods), columns=list(methods))
    means = agreement.groupby(["method_a", "method_b"])["value"].mean()
    for (a, b), mean in means.items():
        matrix.loc[a, b] = matrix.loc[b, a] = mean
    matrix.index.name = "method"
    return matrix


def cost_table(costs: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Seconds per image (the batches' seconds over their images) and the registry's
    passes per image, of each method."""
    rows = []
    for method in methods:
        of = costs[costs["method"] == method]
        images = int(of["images"].sum())
        rows.append(
            {
                "method": method,
                "images": images,
                "seconds_per_image": of["seconds"].sum() / images if images else np.nan,
                "forward": int(of["forward"].iloc[0]) if len(of) else np.nan,
                "backward": int(of["backward"].iloc[0]) if len(of) else np.nan,
            }
        )
    return pd.DataFrame(
        rows, columns=["method", "images", "seconds_per_image", "forward", "backward"]
    )
