"""Shared figure style (headless Agg backend, print-legible fonts), the heat-map overlay,
and the check that a figure is legible: no text over other text, none smaller than
:data:`MIN_FONT_PT` at the size it prints."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

HEATMAP_CMAP = "jet"
MIN_FONT_PT = 6.5  # the smallest text a figure may print, in points
PRINT_WIDTH_IN = 17.4 / 2.54  # a report's text width: figures print at most this wide

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


def heat_rgb(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clipped) in the heat-map colours, as float RGB in [0, 1]."""
    return plt.get_cmap(HEATMAP_CMAP)(np.clip(values, 0.0, 1.0))[..., :3]


def overlay(crop: np.ndarray, saliency: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map, coloured with the jet colormap, over a uint8 RGB crop -> uint8 RGB."""
    if crop.shape[:2] != saliency.shape:
        raise ValueError(f"map {saliency.shape} does not match crop {crop.shape[:2]}")
    heat = heat_rgb(saliency)
    blended = (1.0 - alpha) * heat + alpha * (crop.astype(np.float32) / 255.0)
    return np.round(np.clip(blended, 0.0, 1.0) * 255.0).astype(np.uint8)


def close(figure: plt.Figure) -> None:
    plt.close(figure)


def legibility_problems(
    figure: plt.Figure, *, print_width_in: float = PRINT_WIDTH_IN, min_points: float = MIN_FONT_PT
) -> list[str]:
    """Every visible text of ``figure`` that prints smaller than ``min_points`` (the
    figure scaled to ``print_width_in`` when wider), or whose box overlaps another's."""
    texts, renderer = drawn_texts(figure)
    scale = min(1.0, print_width_in / figure.get_figwidth())
    problems = []
    for t in texts:
        size = t.get_fontsize() * scale
        if size < min_points - 1e-9:
            problems.append(f"{t.get_text()!r} prints at {size:.1f} pt (< {min_points} pt)")
    boxes = [(t, t.get_window_extent(renderer).expanded(0.98, 0.9)) for t in texts]
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            if box_a.overlaps(box_b):
                problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    return problems


def drawn_texts(figure: plt.Figure) -> tuple[list[Any], Any]:
    """The texts a figure draws (visible, not empty, on the canvas), and its renderer."""
    from matplotlib.text import Text

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    hidden = _undrawn_tick_labels(figure)
    texts = [
        t
        for t in figure.findobj(Text)
        if t.get_visible()
        and t.get_text().strip()
        and id(t) not in hidden
        and _drawn(t, figure, renderer)
    ]
    return texts, renderer


def _undrawn_tick_labels(figure: plt.Figure) -> set[int]:
    """Tick labels matplotlib keeps but does not draw: those of a hidden axis, or of a
    tick outside the axis' view interval."""
    hidden: set[int] = set()
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            shown = ax.axison and axis.get_visible()
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not shown or not (low - span <= tick.get_loc() <= high + span):
                    hidden.update((id(tick.label1), id(tick.label2)))
    return hidden


def _drawn(text, figure: plt.Figure, renderer) -> bool:
    """Inside the figure (off-canvas tick labels of a shared axis are not drawn)."""
    box = text.get_window_extent(renderer)
    canvas = figure.bbox
    return box.x1 > canvas.x0 and box.x0 < canvas.x1 and box.y1 > canvas.y0 and box.y0 < canvas.y1
