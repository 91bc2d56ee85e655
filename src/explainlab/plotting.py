"""Shared figure style (headless Agg backend, print-legible fonts) and the heat-map overlay."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

HEATMAP_CMAP = "jet"

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "font.size": 10,
        "axes.titlesize": 10,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "figure.titlesize": 12,
    }
)


def overlay(crop: np.ndarray, saliency: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map, coloured with the jet colormap, over a uint8 RGB crop -> uint8 RGB."""
    if crop.shape[:2] != saliency.shape:
        raise ValueError(f"map {saliency.shape} does not match crop {crop.shape[:2]}")
    heat = plt.get_cmap(HEATMAP_CMAP)(np.clip(saliency, 0.0, 1.0))[..., :3]
    blended = (1.0 - alpha) * heat + alpha * (crop.astype(np.float32) / 255.0)
    return np.round(np.clip(blended, 0.0, 1.0) * 255.0).astype(np.uint8)


def close(figure: plt.Figure) -> None:
    plt.close(figure)
