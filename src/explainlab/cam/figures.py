"""CAM figures: per-method overlays and the per-image panel."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors

from explainlab import runfolder
from explainlab.plotting import HEATMAP_CMAP, close, overlay

METHOD_TITLES = {"gradcam": "Grad-CAM", "ablationcam": "AblationCAM", "scorecam": "ScoreCAM"}


def save_overlay(crop: np.ndarray, saliency: np.ndarray, path: Path) -> Path:
    from PIL import Image

    with runfolder.atomic_path(path) as tmp:
        Image.fromarray(overlay(crop, saliency)).save(tmp, format="PNG")
    return path


def save_panel(
    crop: np.ndarray,
    maps: Mapping[str, np.ndarray],
    seconds: Mapping[str, float],
    title: str,
    path: Path,
) -> Path:
    """Original crop and one overlay per method, a shared colour bar, the prediction as title."""
    n = len(maps) + 1
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n + 0.6, 3.4), layout="constrained")
    axes[0].imshow(crop)
    axes[0].set_title(f"input ({crop.shape[1]}×{crop.shape[0]} crop)")
    for ax, (method, saliency) in zip(axes[1:], maps.items(), strict=True):
        ax.imshow(overlay(crop, saliency))
        ax.set_title(f"{METHOD_TITLES.get(method, method)} ({seconds[method]:.2f} s)")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    mappable = plt.cm.ScalarMappable(norm=colors.Normalize(0, 1), cmap=HEATMAP_CMAP)
    fig.colorbar(mappable, ax=axes[1:], shrink=0.85, label="normalised saliency")
    fig.suptitle(title)
    runfolder.save_figure(fig, path)
    close(fig)
    return path
