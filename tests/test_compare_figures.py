"""The compare stage's figures print legibly: no text over other text (point labels
against tick labels included), none under plotting.MIN_FONT_PT at print size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainlab.compare import complexity, figures
from explainlab.images import MISSION_KEYS
from explainlab.plotting import PRINT_WIDTH_IN, close, legibility_problems


def _complexity(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    keys = list(MISSION_KEYS)[:n]
    frame = pd.DataFrame(
        {
            "key": keys,
            "object_area": rng.uniform(0.05, 0.6, n),
            "n_superpixels": rng.integers(20, 90, n),
            "edge_density": rng.uniform(0.02, 0.2, n),
            "colour_entropy": rng.uniform(3, 8, n),
            "top1_prob": rng.uniform(0.2, 1.0, n),
        }
    )
    # clustered IoUs: labels of neighbouring points compete for the same place
    iou = pd.Series(rng.uniform(0.05, 0.35, n), index=keys)
    return frame, iou


@pytest.mark.parametrize("n", [2, 10])
def test_complexity_scatter_is_legible(n):
    frame, iou = _complexity(n)
    corr = complexity.correlations(frame, {"gradcam": iou})
    fig = figures.complexity_scatter(frame, iou, corr, "gradcam")
    try:
        assert fig.get_figwidth() <= PRINT_WIDTH_IN + 1e-9
        assert legibility_problems(fig) == []
        names = {t.get_text() for t in fig.findobj(figures.Text)}
        assert "American coot" in names  # labelled, not dropped
    finally:
        close(fig)


def test_point_labels_keep_clear_of_tick_labels():
    """Points at the bottom corner, next to the tick labels: the names go elsewhere."""
    keys = list(MISSION_KEYS)
    frame = pd.DataFrame(
        {"key": keys} | {m: np.linspace(0.1, 0.2, 10) for m in complexity.SIMPLER_WHEN}
    )
    iou = pd.Series(np.full(10, 0.02), index=keys)
    corr = complexity.correlations(frame, {"gradcam": iou})
    fig = figures.complexity_scatter(frame, iou, corr, "gradcam")
    try:
        assert legibility_problems(fig) == []
    finally:
        close(fig)


@pytest.mark.parametrize("n", [2, 10])
def test_overview_is_legible(n):
    frame, iou = _complexity(n, seed=3)
    corr = complexity.correlations(frame, {"gradcam": iou})
    table = pd.DataFrame(
        {"key": frame["key"], "iou": iou.to_numpy(), "chance": 0.08, "ceiling": 0.8}
    )
    fig = figures.overview(table, corr, complexity.critical_rho(n), "gradcam")
    try:
        assert fig.get_figwidth() <= PRINT_WIDTH_IN + 1e-9
        assert legibility_problems(fig) == []
    finally:
        close(fig)
