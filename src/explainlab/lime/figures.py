"""LIME figures: superpixel boundaries, positive evidence, positive and negative evidence in
two colours, a bar chart of the largest weights, and a panel of all of them."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from skimage.segmentation import mark_boundaries

from explainlab import runfolder
from explainlab.plotting import MIN_FONT_PT, PRINT_WIDTH_IN, close

POSITIVE = np.array([0.10, 0.75, 0.20])  # green: supports the class
NEGATIVE = np.array([0.85, 0.15, 0.15])  # red: speaks against it
BOUNDARY = (1.0, 1.0, 0.0)
FONT_PT = MIN_FONT_PT + 0.5  # the panels' text, at the size they print


def boundaries_image(crop: np.ndarray, segments: np.ndarray) -> np.ndarray:
    return mark_boundaries(crop, segments, color=BOUNDARY, mode="thin")


def positive_image(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The crop, dimmed outside the positive mask, with the mask's outline."""
    image = crop.astype(np.float64) / 255.0
    dimmed = np.where(mask[..., None], image, 0.25 * image)
    return mark_boundaries(dimmed, mask.astype(np.int32), color=BOUNDARY, mode="thick")


def evidence_image(
    crop: np.ndarray, segments: np.ndarray, weights: Sequence[tuple[int, float]], count: int
) -> np.ndarray:
    """The ``count`` superpixels of largest |weight| tinted green (positive) or red
    (negative), the tint's strength proportional to |weight|."""
    image = crop.astype(np.float64) / 255.0
    chosen = [(s, w) for s, w in weights[:count] if w != 0]
    if not chosen:
        return image
    largest = max(abs(w) for _, w in chosen)
    alpha = np.zeros(segments.shape)
    colour = np.zeros((*segments.shape, 3))
    for segment, weight in chosen:
        inside = segments == segment
        alpha[inside] = 0.25 + 0.5 * abs(weight) / largest
        colour[inside] = POSITIVE if weight > 0 else NEGATIVE
    return (1 - alpha[..., None]) * image + alpha[..., None] * colour


def draw_weights(ax: plt.Axes, weights: Sequence[tuple[int, float]], count: int = 10) -> None:
    top = list(weights[:count])[::-1]
    ax.barh(
        [f"#{s}" for s, _ in top],
        [w for _, w in top],
        color=[POSITIVE if w > 0 else NEGATIVE for _, w in top],
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("LIME weight", fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT)
    ax.xaxis.set_major_locator(MaxNLocator(3))


def bare(ax: plt.Axes) -> None:
    """No ticks, no frame: an image (and no hidden tick labels for a legibility check)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _save_image(image: np.ndarray, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4, 4.3), layout="constrained")
    ax.imshow(np.clip(image, 0, 1) if image.dtype != np.uint8 else image)
    ax.set_title(title)
    bare(ax)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def save_figures(
    folder: Path,
    crop: np.ndarray,
    segments: np.ndarray,
    weights: Sequence[tuple[int, float]],
    mask: np.ndarray,
    *,
    num_features: int,
    title: str,
) -> list[Path]:
    """boundaries.png, positive.png, evidence.png, weights.png and panel.png in ``folder``."""
    n_segments = len(np.unique(segments))
    boundaries = boundaries_image(crop, segments)
    positive = positive_image(crop, mask)
    evidence = evidence_image(crop, segments, weights, 2 * num_features)
    titles = (
        f"{n_segments} superpixels",
        f"positive evidence (top {num_features})",
        f"evidence: green +, red − (top {2 * num_features} by |w|)",
    )
    paths = [
        _save_image(boundaries, titles[0], folder / "boundaries.png"),
        _save_image(positive, titles[1], folder / "positive.png"),
        _save_image(evidence, titles[2], folder / "evidence.png"),
    ]
    fig, ax = plt.subplots(figsize=(4.5, 4.3), layout="constrained")
    draw_weights(ax, weights)
    ax.set_title("largest superpixel weights")
    paths.append(runfolder.save_figure(fig, folder / "weights.png"))
    close(fig)

    fig, axes = plt.subplots(
        1, 5, figsize=(PRINT_WIDTH_IN, 1.9), layout="constrained", width_ratios=[1, 1, 1, 1, 1.2]
    )
    short = ("input", f"{n_segments} superpixels", f"mask (top {num_features})", "green +, red −")
    for ax, image, name in zip(
        axes[:4], (crop, boundaries, positive, evidence), short, strict=True
    ):
        ax.imshow(image)
        ax.set_title(name, fontsize=FONT_PT)
        bare(ax)
    draw_weights(axes[4], weights)
    axes[4].set_title("largest weights", fontsize=FONT_PT)
    fig.suptitle(title, fontsize=FONT_PT + 0.5)
    paths.append(runfolder.save_figure(fig, folder / "panel.png"))
    close(fig)
    return paths


OVERVIEW_COLUMNS = 5
OVERVIEW_CHARS = 14  # a title line's characters at most
OVERVIEW_CELL_IN = 0.88  # inches: one image's width as it prints (5 a row fit the text width)


def overview_title(image: str, label: str, mark: str = "") -> str:
    """Two short lines (the image, the class explained and its mark) that fit a cell."""
    short = [textwrap.shorten(t, OVERVIEW_CHARS, placeholder="…") for t in (image, label)]
    return f"{short[0]}\n{short[1]}{mark}"


def save_mask_overview(
    items: Sequence[tuple[str, np.ndarray, np.ndarray]], path: Path, columns: int = OVERVIEW_COLUMNS
) -> Path:
    """Every image's crop dimmed outside its LIME mask (:func:`positive_image`), titled
    (``items``: title, crop, mask), up to ``columns`` a row, drawn at the size it prints."""
    cols = max(1, min(columns, len(items)))
    rows = -(-len(items) // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(OVERVIEW_CELL_IN * cols, (OVERVIEW_CELL_IN + 0.28) * rows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        bare(ax)
    for ax, (title, crop, mask) in zip(axes.flat, items, strict=False):
        ax.imshow(np.clip(positive_image(crop, mask), 0, 1))
        ax.set_title(title, fontsize=MIN_FONT_PT, linespacing=1.1)
    runfolder.save_figure(fig, path)
    close(fig)
    return path
