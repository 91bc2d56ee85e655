"""How well local scores predict the grader's: Spearman rank correlations across
submissions, per reference hypothesis, and the hypothesis that agrees best."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

# (column of the local scores, column of the grader's) of each correlation reported
CORRELATIONS: dict[str, tuple[str, str]] = {
    "rho_iou": ("local_iou", "server_iou"),
    "rho_cost": ("local_cost", "server_seconds"),  # counted work, at this machine's rates
    "rho_wall": ("local_wall", "server_seconds"),  # wall time here, load and all
    "rho_samples": ("mean_num_samples", "server_seconds"),  # the simplest predictor
}


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank) over the pairs where both
    are finite; NaN with fewer than two pairs or when one side is constant."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return math.nan
    rx, ry = rankdata(x), rankdata(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def agreement_table(per_submission: pd.DataFrame) -> pd.DataFrame:
    """Per hypothesis: the submissions compared and each rank correlation of
    :data:`CORRELATIONS`. ``per_submission`` has one row per hypothesis and submission."""
    rows = []
    for hypothesis, group in per_submission.groupby("hypothesis", sort=False):
        row = {"hypothesis": hypothesis, "submissions": int(group["local_iou"].notna().sum())}
        for name, (local, server) in CORRELATIONS.items():
            row[name] = spearman(group[local], group[server])
        rows.append(row)
    return pd.DataFrame(rows, columns=["hypothesis", "submissions", *CORRELATIONS])


def best_hypothesis(agreement: pd.DataFrame) -> str:
    """The hypothesis whose local IoU ranks the submissions most like the grader's (ties:
    the better time agreement, then the first)."""
    if agreement.empty:
        raise ValueError("no hypothesis was scored")
    ranked = agreement.assign(
        _iou=agreement["rho_iou"].fillna(-math.inf), _cost=agreement["rho_cost"].fillna(-math.inf)
    ).sort_values(["_iou", "_cost"], ascending=False, kind="stable")
    return str(ranked["hypothesis"].iloc[0])
