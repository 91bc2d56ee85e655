"""The IoU a CAM grid allows: a mask made of whole grid cells keeps nearly all of it,
a mask finer than the grid loses most of it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explainlab.compare import complexity, grid, summary


def test_a_mask_of_whole_cells_passes_the_grid():
    mask = np.zeros((224, 224), bool)
    mask[64:160, 32:128] = True  # 3 x 3 cells of 32 pixels
    assert grid.ceiling_iou(mask, (7, 7), np.random.default_rng(0)) > 0.8


def test_a_mask_finer_than_the_grid_is_bounded():
    mask = np.zeros((224, 224), bool)
    for i in range(0, 224, 16):  # 16-pixel checkerboard: half a cell
        for j in range((i // 16) % 2 * 16, 224, 32):
            mask[i : i + 16, j : j + 16] = True
    assert grid.ceiling_iou(mask, (7, 7), np.random.default_rng(0)) < 0.5
    assert grid.ceiling_iou(mask, (28, 28), np.random.default_rng(0)) > 0.9


def test_an_empty_mask_has_no_ceiling():
    assert np.isnan(grid.ceiling_iou(np.zeros((8, 8), bool), (2, 2), np.random.default_rng(0)))


def test_counts_of_the_summary():
    agreement = pd.DataFrame(
        [
            {"key": k, "method": "gradcam", "measure": m, "value": v}
            for k, iou in (("a", 0.3), ("b", 0.05), ("c", 0.2))
            for m, v in (("iou_area", iou), ("iou_area_chance", 0.1))
        ]
    )
    assert summary.above_chance(agreement) == {"gradcam": 2}
    faith = pd.DataFrame(
        {
            "key": ["a", "a", "b", "b"],
            "method": ["gradcam", "lime"] * 2,
            "deletion_auc": [0.1, 0.2, 0.3, 0.2],
            "insertion_auc": [0.9, 0.8, 0.7, 0.6],
        }
    )
    assert summary.paired_wins(faith, "gradcam", "lime") == {
        "methods": ["gradcam", "lime"],
        "images": 2,
        "deletion_wins": 1,
        "insertion_wins": 2,
    }


def test_no_relation_is_not_supported_rather_than_denied():
    keys = [f"img{i}" for i in range(10)]
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"key": keys} | {m: rng.permutation(10) for m in complexity.SIMPLER_WHEN})
    iou = pd.Series(np.linspace(0.2, 0.6, 10), index=keys)
    corr = complexity.correlations(frame, {"gradcam": iou})
    if (corr["p"] < 0.05).any():
        return  # the permutation correlated by chance: nothing to check
    text = complexity.answer(corr, iou, "Grad-CAM").paragraph
    assert "not supported with 10 images" in text and "0.20–0.60" in text
