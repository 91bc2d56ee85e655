"""Figures of the compare stage, sized for print (about 7 inches wide, 9-10 pt text)."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from explainlab import runfolder
from explainlab.compare.complexity import LABELS, SIMPLER_WHEN
from explainlab.measures import get_measure, measures
from explainlab.measures.faithfulness import auc
from explainlab.methods import colour_of, method_names, title_of
from explainlab.plotting import PRINT_WIDTH_IN, close, overlay

# The faithfulness baseline (faithfulness.RANDOM, which loads torch): no method, but a
# title and a colour of its own.
RANDOM, RANDOM_TITLE, RANDOM_COLOUR = "random", "random order", "#555555"
# Okabe-Ito colours: distinguishable with colour-blindness and in greyscale print.
BOTH, CAM_ONLY, LIME_ONLY = (0.0, 0.62, 0.45), (0.0, 0.45, 0.70), (0.84, 0.37, 0.0)
SIGNIFICANT = "#0072B2"  # a complexity measure's bar where its rho with IoU is significant
WIDTH = 7.2


def title(method: str) -> str:
    return RANDOM_TITLE if method == RANDOM else title_of(method)


def method_colour(method: str) -> str | None:
    return RANDOM_COLOUR if method == RANDOM else colour_of(method)


def in_order(present: Container[str]) -> list[str]:
    """The methods of ``present`` (and the random order) in the registry's order."""
    return [m for m in (*method_names(), RANDOM) if m in present]


def overlap_image(crop: np.ndarray, cam_mask: np.ndarray, lime_mask: np.ndarray) -> np.ndarray:
    """The crop in grey with intersection, CAM-only and LIME-only pixels in three colours."""
    grey = crop.astype(np.float64).mean(-1, keepdims=True).repeat(3, -1) / 255.0
    out = 0.35 + 0.4 * grey
    for region, colour in (
        (cam_mask & lime_mask, BOTH),
        (cam_mask & ~lime_mask, CAM_ONLY),
        (~cam_mask & lime_mask, LIME_ONLY),
    ):
        out[region] = 0.25 * out[region] + 0.75 * np.array(colour)
    return np.round(out * 255).astype(np.uint8)


def overlap_legend() -> list[Patch]:
    return [
        Patch(color=BOTH, label="both"),
        Patch(color=CAM_ONLY, label="CAM only"),
        Patch(color=LIME_ONLY, label="LIME only"),
    ]


def save_image_panel(
    crop: np.ndarray,
    maps: Mapping[str, np.ndarray],
    lime_mask: np.ndarray,
    cam_masks: Mapping[str, np.ndarray],
    area_masks: Mapping[str, np.ndarray],
    ious: Mapping[str, tuple[float, float]],
    threshold: float,
    heading: str,
    path: Path,
) -> Path:
    """One row per CAM method: crop; CAM with its thresholded mask outlined; LIME mask;
    overlap of the thresholded and of the area-matched CAM mask with LIME's, IoU in the title."""
    n = len(maps)
    fig, axes = plt.subplots(n, 5, figsize=(WIDTH, 1.6 * n + 0.75), squeeze=False)
    lime_view = overlap_image(crop, np.zeros_like(lime_mask), lime_mask)
    for row, method in enumerate(maps):
        iou_t, iou_a = ious[method]
        cells = (
            (crop, "input crop"),
            (overlay(crop, maps[method]), f"{title(method)}, ≥ {threshold:g} outlined"),
            (lime_view, "LIME mask"),
            (
                overlap_image(crop, cam_masks[method], lime_mask),
                f"≥ {threshold:g}: IoU {iou_t:.2f}",
            ),
            (overlap_image(crop, area_masks[method], lime_mask), f"same area: IoU {iou_a:.2f}"),
        )
        for ax, (image, text) in zip(axes[row], cells, strict=True):
            ax.imshow(image)
            ax.set_title(text, fontsize=8.5)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 1].contour(cam_masks[method], levels=[0.5], colors="white", linewidths=1.0)
        axes[row, 0].set_ylabel(title(method), fontsize=9)
    fig.legend(handles=overlap_legend(), loc="lower center", ncol=3, frameon=False)
    fig.suptitle(heading)
    fig.tight_layout(rect=(0, 0.06 if n < 2 else 0.04, 1, 1))
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def save_iou_bars(agreement: pd.DataFrame, order_method: str, path: Path) -> Path:
    """IoU per image (horizontal bars, sorted by ``order_method``'s area-matched IoU) for
    both binarisations, with the chance level of area-matched masks as a tick."""
    area, fixed = get_measure("iou_area"), get_measure("iou_threshold")
    wide = agreement.pivot_table(index=["key", "method"], columns="measure", values="value")
    methods = in_order(set(wide.index.get_level_values("method")))
    primary = order_method if order_method in methods else methods[0]
    keys = wide.xs(primary, level="method")[area.name].sort_values().index.tolist()
    fig, axes = plt.subplots(
        1, 2, figsize=(WIDTH, 0.42 * len(keys) * max(1, len(methods) / 2) + 1.4), sharey=True
    )
    height = 0.8 / len(methods)
    y = np.arange(len(keys))
    for ax, spec in zip(axes, (area, fixed), strict=True):
        for i, method in enumerate(methods):
            values = wide.xs(method, level="method").reindex(keys)[spec.name]
            ax.barh(
                y + (i - (len(methods) - 1) / 2) * height,
                values,
                height,
                color=method_colour(method),
                label=f"{title(method)} vs LIME",
            )
        if spec.chance:
            chance = wide.xs(primary, level="method").reindex(keys)[spec.chance]
            ax.scatter(chance, y, marker="|", s=160, color="black", zorder=3, label="chance level")
        ax.set_xlim(*spec.range)
        ax.set_xlabel(spec.title)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [k.replace("_", " ") for k in keys])
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Agreement of CAM and LIME masks per image (sorted)")
    fig.tight_layout()
    runfolder.save_figure(fig, path)
    close(fig)
    return path


SWEEP_COLUMNS = 4  # panels per row of the IoU sweep


def save_sweep(sweep: pd.DataFrame, path: Path) -> Path:
    """IoU against the CAM threshold: one panel per CAM method (rows of
    :data:`SWEEP_COLUMNS` where there are more), one line per image."""
    methods = in_order(set(sweep["method"]))
    keys = list(dict.fromkeys(sweep["key"]))
    colours = plt.get_cmap("tab10" if len(keys) <= 10 else "tab20")
    panel_rows = -(-len(methods) // SWEEP_COLUMNS)
    fig, axes = plt.subplots(
        panel_rows,
        min(len(methods), SWEEP_COLUMNS),
        figsize=(WIDTH, 3.0 * panel_rows),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel()[len(methods) :]:
        ax.axis("off")
    for ax, method in zip(axes.ravel(), methods, strict=False):
        part = sweep[sweep["method"] == method]
        for i, key in enumerate(keys):
            rows = part[part["key"] == key]
            ax.plot(rows["threshold"], rows["iou"], color=colours(i % colours.N), lw=1.2, label=key)
        mean = part.groupby("threshold")["iou"].mean()
        ax.plot(mean.index, mean.values, color="black", lw=2.4, label="mean")
        ax.set_title(f"{title(method)} vs LIME")
        ax.set_xlabel("CAM threshold")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("IoU with LIME mask")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def save_overview(
    table: pd.DataFrame, corr: pd.DataFrame, critical: float, method: str, path: Path
) -> Path:
    """Report 4's key figure (:func:`overview`)."""
    fig = overview(table, corr, critical, method)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def overview(table: pd.DataFrame, corr: pd.DataFrame, critical: float, method: str) -> plt.Figure:
    """Left: area-matched IoU per image (sorted) with the chance level and, when known,
    the ceiling the CAM grid allows. Right: each complexity measure's Spearman rho with
    IoU, signed so that right means "simpler images agree more", with the band inside
    which a rho is not significant at p < 0.05. ``table``: key, iou, chance[, ceiling]."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(PRINT_WIDTH_IN, 2.3), width_ratios=(1.15, 1), layout="constrained"
    )
    rows = table.sort_values("iou")
    y = np.arange(len(rows))
    left.barh(y, rows["iou"], 0.7, color=method_colour(method), label=f"{title(method)} vs LIME")
    left.scatter(rows["chance"], y, marker="|", s=120, color="black", zorder=3, label="chance")
    if "ceiling" in rows and rows["ceiling"].notna().any():
        left.scatter(
            rows["ceiling"],
            y,
            marker="D",
            s=14,
            color="0.45",
            zorder=3,
            label="ceiling of the CAM grid",
        )
    left.set_yticks(y, [str(k).replace("_", " ") for k in rows["key"]], fontsize=8)
    left.set_xlim(0, 1)
    left.set_xlabel("area-matched IoU with LIME's mask", fontsize=8.5)
    left.tick_params(axis="x", labelsize=8)
    left.grid(axis="x", alpha=0.3)
    left.legend(fontsize=7, loc="best", frameon=True, framealpha=0.9)
    left.set_title("How far do they agree?", fontsize=9.5)
    _oriented_rho(right, corr, critical)
    return fig


def _oriented_rho(ax: plt.Axes, corr: pd.DataFrame, critical: float) -> None:
    names = [m for m in SIMPLER_WHEN if m in set(corr["measure"])]
    rho = corr.set_index("measure")["rho"].reindex(names) * pd.Series(SIMPLER_WHEN).reindex(names)
    y = np.arange(len(names))
    ax.set_title("Do simple images agree more?", fontsize=9.5)
    ax.set_yticks(y, [LABELS[m].split(" (")[0] for m in names], fontsize=8)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-0.6, len(names) + 0.4)  # a free line on top for the band's key
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("Spearman rho; > 0: simpler agrees more", fontsize=8.5)
    ax.grid(axis="x", alpha=0.3)
    if rho.isna().all():
        n = int(corr["n"].max()) if len(corr) else 0
        ax.text(
            0,
            len(names) / 2 - 0.5,
            f"{n} images: too few\nfor a rank correlation",
            ha="center",
            va="center",
            fontsize=8.5,
        )
        return
    ax.axvline(0, color="black", lw=0.8)
    ax.axvspan(-critical, critical, color="0.88", zorder=0)
    ax.text(
        0,
        len(names) - 0.05,
        f"grey: |rho| < {critical:.2f}, not significant (p ≥ 0.05)",
        ha="center",
        va="center",
        fontsize=7,
    )
    colours = [SIGNIFICANT if abs(r) >= critical else "0.55" for r in rho.fillna(0)]
    ax.barh(y, rho.fillna(0), 0.6, color=colours)


def save_complexity_scatter(
    complexity: pd.DataFrame, iou: pd.Series, corr: pd.DataFrame, method: str, path: Path
) -> Path:
    """Each complexity measure against IoU, points named by image, rho and p in the title."""
    fig = complexity_scatter(complexity, iou, corr, method)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def complexity_scatter(
    complexity: pd.DataFrame, iou: pd.Series, corr: pd.DataFrame, method: str
) -> plt.Figure:
    frame = complexity.set_index("key").join(iou.rename("iou"), how="inner")
    # 6.6 in tall: with its margins it prints at full size within the 60% of a page it gets
    fig, axes = plt.subplots(3, 2, figsize=(PRINT_WIDTH_IN, 6.6))
    for ax, name in zip(axes.ravel(), SIMPLER_WHEN, strict=False):
        ax.scatter(frame[name], frame["iou"], color=method_colour(method), s=18)
        ax.margins(x=0.1)
        ticks_inside(ax, MaxNLocator(5))
        ax.set_title(_rho_text(corr, name), fontsize=9)
        ax.set_xlabel(LABELS[name], fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("area-matched IoU")
    axes.ravel()[-1].axis("off")
    axes.ravel()[-1].text(
        0.0,
        0.5,
        f"IoU: {title(method)} vs LIME, area-matched.\n\nSimpler is: a larger object, fewer "
        "superpixels,\nfewer edges, fewer colours, a higher\ntop-1 probability.",
        fontsize=9,
        va="center",
    )
    fig.suptitle("Do simple images agree more? (Spearman's rho per measure)")
    fig.tight_layout()
    fig.canvas.draw()  # tick labels where they print, for the point labels to avoid
    for ax, name in zip(axes.ravel(), SIMPLER_WHEN, strict=False):
        label_points(ax, frame[name].to_numpy(float), frame["iou"].to_numpy(float), frame.index)
    return fig


def ticks_inside(ax: plt.Axes, locator: MaxNLocator) -> None:
    """x ticks only inside the view: matplotlib does not draw the others, but they keep
    a (stale) place that a check of overlapping text would count."""
    low, high = ax.get_xlim()
    ax.set_xticks([t for t in locator.tick_values(low, high) if low <= t <= high])
    ax.set_xlim(low, high)


def _rho_text(corr: pd.DataFrame, name: str) -> str:
    found = corr[corr["measure"] == name]
    rho, p = (found["rho"].iloc[0], found["p"].iloc[0]) if len(found) else (np.nan, np.nan)
    return "rho n/a (too few images)" if np.isnan(rho) else f"rho = {rho:+.2f}, p = {p:.2g}"


LABEL_PT = 7.0  # point labels: above plotting.MIN_FONT_PT at print size


def label_points(ax: plt.Axes, x: np.ndarray, y: np.ndarray, names: Sequence[str]) -> None:
    """Name each point inside the axes, where its label covers no other text: the first
    free place of a few beside and above or below the point (measured by the renderer,
    after the layout is final); a label away from its point gets a thin leader line."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = [t.get_window_extent(renderer) for t in fig.findobj(Text) if _visible(t)]
    for i in np.argsort(-y):
        for dx, dy in _offsets(
            ax.transData.transform((x[i], y[i]))[0] < frame.x0 + frame.width / 2
        ):
            note = ax.annotate(
                str(names[i]).replace("_", " "),
                (x[i], y[i]),
                xytext=(dx, dy),
                textcoords="offset points",
                ha="left" if dx > 0 else "right",
                va="center",
                fontsize=LABEL_PT,
            )
            box = note.get_window_extent(renderer)
            inside = (
                frame.x0 <= box.x0
                and box.x1 <= frame.x1
                and frame.y0 <= box.y0
                and box.y1 <= frame.y1
            )
            if inside and not any(box.overlaps(b) for b in taken):
                break
            note.remove()
        else:  # no free place: the name is left out rather than printed over another
            continue
        taken.append(box)
        if dy:  # a leader line, as an empty annotation: no text box of its own
            leader = {"arrowstyle": "-", "lw": 0.4, "color": "0.5", "shrinkA": 0, "shrinkB": 2}
            ax.annotate(
                "", (x[i], y[i]), xytext=(dx, dy), textcoords="offset points", arrowprops=leader
            )


def _offsets(on_right: bool) -> list[tuple[float, float]]:
    """Label offsets (points) to try, nearest first: level with the point, then up to
    eight lines above and below it, on the roomier side first."""
    side = [4.0, -4.0] if on_right else [-4.0, 4.0]
    lines = [0.0] + [s * 9.0 * k for k in range(1, 9) for s in (1, -1)]
    return [(dx, dy) for dy in lines for dx in side]


def _visible(text: Text) -> bool:
    return text.get_visible() and bool(text.get_text().strip())


def save_curves(curves: pd.DataFrame, path: Path, heading: str) -> Path:
    """Mean deletion and insertion curves per method (random order dashed), AUC in the legend."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.0), sharey=True, layout="constrained")
    for ax, kind in zip(axes, ("deletion", "insertion"), strict=True):
        part = curves[curves["kind"] == kind]
        for method in in_order(set(part["method"])):
            rows = part[part["method"] == method]
            mean = rows.groupby("fraction")["prob"].mean()
            area = auc(mean.index.to_numpy(), mean.to_numpy())
            ax.plot(
                mean.index,
                mean.values,
                color=method_colour(method),
                ls="--" if method == RANDOM else "-",
                lw=1.8,
                label=f"{title(method)} (AUC {area:.3f})",
            )
        ax.set_title(f"{kind} ({'lower' if kind == 'deletion' else 'higher'} AUC is better)")
        ax.set_xlabel(f"fraction of pixels {'deleted' if kind == 'deletion' else 'inserted'}")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("probability of the explained class")
    fig.suptitle(heading)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def save_auc_summary(faith: pd.DataFrame, path: Path) -> Path:
    """Per faithfulness measure: its mean per method (bars) with every image's value (dots)."""
    methods = in_order(set(faith["method"]))
    specs = measures("map")
    fig, axes = plt.subplots(
        1, len(specs), figsize=(WIDTH, 2.8), layout="constrained", squeeze=False
    )
    rng = np.random.default_rng(0)  # horizontal jitter of the dots only
    for ax, spec in zip(axes[0], specs, strict=True):
        for i, method in enumerate(methods):
            values = faith.loc[faith["method"] == method, spec.name].to_numpy()
            ax.bar(i, values.mean(), color=method_colour(method), alpha=0.75)
            ax.scatter(i + rng.uniform(-0.2, 0.2, len(values)), values, color="black", s=9)
        ax.set_xticks(range(len(methods)), [title(m) for m in methods], rotation=20)
        ax.set_ylim(*spec.range)
        ax.set_ylabel(spec.title)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(f"{spec.short} ({spec.better})" if spec.better else spec.short)
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def save_sanity(sanity: pd.DataFrame, path: Path) -> Path:
    """Similarity to the original map along the cascade: mean over images, min-max band."""
    steps = sanity[["step", "block"]].drop_duplicates().sort_values("step")
    specs = measures("sanity")
    fig, axes = plt.subplots(
        1, len(specs), figsize=(WIDTH, 3.4), sharex=True, layout="constrained", squeeze=False
    )
    for ax, spec in zip(axes[0], specs, strict=True):
        for method in in_order(set(sanity["method"])):
            stats = sanity[sanity["method"] == method].groupby("step")[spec.name]
            mean, low, high = stats.mean(), stats.min(), stats.max()
            colour = method_colour(method)
            ax.plot(mean.index, mean.values, marker="o", ms=3, color=colour, label=title(method))
            ax.fill_between(mean.index, low.values, high.values, color=colour, alpha=0.15)
        ax.set_ylabel(spec.title)
        bottom, top = spec.range
        floor = bottom if spec.plot_floor is None else spec.plot_floor
        low = min(floor, float(sanity[spec.name].min()) - 0.05)
        ax.set_ylim(max(low, bottom - 0.02), top + 0.02)
        ax.grid(alpha=0.3)
        ax.set_xticks(steps["step"], steps["block"], rotation=60, ha="right", fontsize=8)
        ax.set_xlabel("randomised down to (cumulative, top first)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Sanity check: similarity to the original map as layers are randomised")
    runfolder.save_figure(fig, path)
    close(fig)
    return path


def save_sanity_maps(
    crop: np.ndarray,
    maps: Mapping[str, Sequence[np.ndarray]],
    blocks: Sequence[str],
    heading: str,
    path: Path,
    max_columns: int = 6,
) -> Path:
    """One row per method, columns: the original map and maps along the cascade."""
    from explainlab.masks import normalise

    total = len(blocks)
    picks = sorted(set(np.linspace(0, total - 1, min(max_columns, total)).round().astype(int)))
    fig, axes = plt.subplots(
        len(maps), len(picks), figsize=(WIDTH, 1.4 * len(maps) + 0.6), squeeze=False
    )
    for row, (method, series) in enumerate(maps.items()):
        for col, step in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(overlay(crop, normalise(series[step])))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"to {blocks[step]}" if step else "original", fontsize=8)
        axes[row, 0].set_ylabel(title(method), fontsize=9)
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    runfolder.save_figure(fig, path)
    close(fig)
    return path


# Cells print their value up to this many methods; more, and the colour alone says it.
VALUES_UP_TO = 10


def save_pair_matrix(tables: Mapping[str, pd.DataFrame], images: int, path: Path) -> Path:
    """Method-by-method matrices of the pairs' mean agreement over the images, one panel
    per measure (``tables``: measure -> the symmetric table of :func:`.pairs.matrix`):
    side by side for a few methods, one above the other for many; values in the cells
    only where they fit; the diagonal (a map with itself) blank."""
    n = max(len(t) for t in tables.values())
    stacked = n > VALUES_UP_TO
    count = len(tables)
    size = (WIDTH, WIDTH * 0.95 * count) if stacked else (WIDTH, WIDTH / count * 0.95 + 0.5)
    fig, axes = plt.subplots(
        count if stacked else 1,
        1 if stacked else count,
        figsize=size,
        squeeze=False,
        layout="constrained",
    )
    label_pt = 8.0 if n <= VALUES_UP_TO else max(5.0, 8.0 - (n - VALUES_UP_TO) * 0.15)
    for ax, (name, table) in zip(axes.ravel(), tables.items(), strict=True):
        spec = get_measure(name)
        low, high = spec.range
        # grey: the diagonal, and a pair without a value
        cmap = plt.get_cmap("RdBu_r" if low < 0 else "viridis").with_extremes(bad="0.85")
        values = table.to_numpy(dtype=float)
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=low, vmax=high)
        labels = [title(m) for m in table.index]
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=label_pt)
        ax.set_yticks(range(len(labels)), labels, fontsize=label_pt)
        heading = spec.title[:1].upper() + spec.title[1:]
        ax.set_title(f"{heading}\n({spec.better})" if spec.better else heading, fontsize=8.5)
        if len(table) <= VALUES_UP_TO:
            for (i, j), value in np.ndenumerate(values):
                if np.isfinite(value):
                    light = (value - low) / (high - low)
                    dark_cell = light < 0.55 if low >= 0 else abs(value) > 0.6 * high
                    ax.text(
                        j,
                        i,
                        format(value, spec.text_format),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark_cell else "black",
                    )
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(f"Agreement between every two methods, mean over {images} image(s)", fontsize=10)
    runfolder.save_figure(fig, path)
    close(fig)
    return path
