"""CAM figures: per-method overlays, the per-image panel, and the grid of images x
methods the report prints (drawn at the size it prints, fonts at least
:data:`~explainlab.plotting.MIN_FONT_PT`)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors

from explainlab import runfolder
from explainlab.methods import title_of
from explainlab.plotting import HEATMAP_CMAP, PRINT_WIDTH_IN, close, overlay

GRID_FONT_PT = 7.5  # the grid's labels, at the size it prints
OVERLAY_ALPHA = 0.5  # plotting.overlay's default: the crop's share of an overlay
PANEL_COLUMNS = 6  # pictures on one line of a panel (the crop and five maps)


def save_crop(crop: np.ndarray, path: Path) -> Path:
    from PIL import Image

    with runfolder.atomic_path(path) as tmp:
        Image.fromarray(crop).save(tmp, format="PNG")
    return path


def read_crop(folder: Path, method: str) -> np.ndarray:
    """An image's crop: ``crop.png``, or (a cam folder made before the stage saved it)
    recovered from the overlay of ``method`` and its map, within one grey level."""
    from PIL import Image

    folder = Path(folder)
    if (folder / "crop.png").is_file():
        return np.asarray(Image.open(folder / "crop.png").convert("RGB"))
    blended = np.asarray(Image.open(folder / f"{method}.png").convert("RGB"), dtype=np.float32)
    heat = plt.get_cmap(HEATMAP_CMAP)(np.clip(np.load(folder / f"{method}.npy"), 0, 1))[..., :3]
    crop = (blended / 255.0 - (1 - OVERLAY_ALPHA) * heat) / OVERLAY_ALPHA
    return np.round(np.clip(crop, 0.0, 1.0) * 255.0).astype(np.uint8)


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
    """Original crop and one overlay per method, a shared colour bar, the prediction as
    title; more than :data:`PANEL_COLUMNS` pictures wrap onto further lines."""
    n = len(maps) + 1
    columns = min(n, PANEL_COLUMNS)
    lines = -(-n // columns)
    fig, grid = plt.subplots(
        lines,
        columns,
        figsize=(3.0 * columns + 0.6, 3.4 * lines),
        layout="constrained",
        squeeze=False,
    )
    axes = grid.ravel()
    axes[0].imshow(crop)
    axes[0].set_title(f"input ({crop.shape[1]}×{crop.shape[0]} crop)")
    for ax, (method, saliency) in zip(axes[1:n], maps.items(), strict=True):
        ax.imshow(overlay(crop, saliency))
        ax.set_title(f"{title_of(method)} ({seconds[method]:.2f} s)")
    for ax in axes[:n]:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_axis_off()
    mappable = plt.cm.ScalarMappable(norm=colors.Normalize(0, 1), cmap=HEATMAP_CMAP)
    fig.colorbar(mappable, ax=list(axes[1:]), shrink=0.85 / lines, label="normalised saliency")
    fig.suptitle(title)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


@dataclass(frozen=True)
class GridRow:
    """One image of a grid: its label (name, prediction), crop and maps by method."""

    label: str
    crop: np.ndarray
    maps: Mapping[str, np.ndarray]


LABEL_IN = 0.42  # room for a row's label along its crop (two or three lines), inches
SIDE_LABEL_IN = 1.9  # the most room for a label written beside its row, inches
TITLE_IN = 0.2  # the column titles above the first line, inches
GAP_IN = 0.04  # between two lines of pictures, inches


def save_grid(
    rows: Sequence[GridRow],
    path: Path,
    width_in: float = PRINT_WIDTH_IN,
    per_row: int = 1,
    height_in: float | None = None,
) -> Path:
    """:func:`grid_figure` saved at print resolution."""
    fig = grid_figure(rows, width_in, per_row, height_in)
    runfolder.save_figure(fig, path, dpi=200, pad_inches=0)  # drawn at the size it prints
    close(fig)
    return path


def grid_figure(
    rows: Sequence[GridRow],
    width_in: float = PRINT_WIDTH_IN,
    per_row: int = 1,
    height_in: float | None = None,
) -> plt.Figure:
    """The input crop then one overlay per method for each image, ``per_row`` images side
    by side, drawn at most ``width_in`` inches wide (the width it prints at) with text of
    :data:`GRID_FONT_PT`; each image's label wrapped along its crop. At most ``height_in``
    tall when given: where that makes the pictures smaller than the width allows, the
    figure is narrower and each label (its lines kept) is written beside its row."""
    methods = list(rows[0].maps)
    group = len(methods) + 1
    lines = -(-len(rows) // per_row)
    cell = (width_in - per_row * LABEL_IN) / (per_row * group)
    label_in, beside = LABEL_IN, False
    if height_in is not None and (tall := (height_in - TITLE_IN) / lines - GAP_IN) < cell:
        cell, beside = tall, True
        label_in = min(SIDE_LABEL_IN, width_in / per_row - group * cell)
    ratios = [label_in / cell, *[1.0] * group] * per_row
    fig, axes = plt.subplots(
        lines,
        len(ratios),
        figsize=(per_row * (label_in + group * cell), lines * (cell + GAP_IN) + TITLE_IN),
        squeeze=False,
        gridspec_kw={"wspace": 0.03, "hspace": 0.04, "width_ratios": ratios},
    )
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - TITLE_IN * 0.9 / fig.get_figheight())
    titles = ["input crop", *(title_of(m) for m in methods)]
    for ax in axes.ravel():
        ax.set_axis_off()
    # characters along a label: the crop's side, or beside it the label's room
    wrap = max(12, int((label_in if beside else cell) * 72 / (0.55 * GRID_FONT_PT)))
    for i, row in enumerate(rows):
        line, first = divmod(i, per_row)
        cells = axes[line][first * (group + 1) + 1 : (first + 1) * (group + 1)]
        images = [row.crop, *(overlay(row.crop, row.maps[m]) for m in methods)]
        for c, (ax, image) in enumerate(zip(cells, images, strict=True)):
            ax.set_axis_on()
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if line == 0:
                ax.set_title(titles[c], fontsize=GRID_FONT_PT, pad=2)
        wrapped = [w for part in row.label.split("\n") for w in textwrap.wrap(part, wrap)]
        cells[0].set_ylabel(
            "\n".join(wrapped if beside else wrapped[:3]),
            fontsize=GRID_FONT_PT,
            labelpad=4 if beside else 2,
            linespacing=1.1,
            **({"rotation": 0, "ha": "right", "va": "center"} if beside else {}),
        )
    return fig
