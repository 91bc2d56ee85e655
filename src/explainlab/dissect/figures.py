"""Figures of the analysis, drawn from its tables; sized for print (at most the text
width, 6.85 inches, fonts of 7 points or more at that size) and saved atomically."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from explainlab import plotting, runfolder
from explainlab.dissect.categories import CATEGORIES, OTHER
from explainlab.dissect.progression import STACKED, with_share
from explainlab.dissect.tables import ALL_LAYERS, Descriptions

plt = plotting.plt
WIDTH = plotting.PRINT_WIDTH_IN  # inches: a printed page's text width
CATEGORY_COLORS = {
    "object": "#4e79a7",
    "part": "#a0cbe8",
    "scene": "#59a14f",
    "material": "#b07aa1",
    "texture": "#f28e2b",
    "color": "#e15759",
    OTHER: "#bab0ac",
}
GROUP_COLORS = {
    "low-level": "#f28e2b",
    "object": "#4e79a7",
    "scene": "#59a14f",
    "abstract": "#b07aa1",
    OTHER: "#d3cfcc",
}
GROUP_NAMES = {  # the groups of WordNet categories (progression.GROUPS)
    "low-level": "pattern, colour, shape, material",
    "object": "object",
    "scene": "place",
    "abstract": "abstract",
    OTHER: "no WordNet entry",
}
MODEL_COLORS = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2"]


def _short(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _save(fig, path: Path, note: str = "") -> Path:
    if note:
        fig.text(0.01, -0.01, textwrap.fill(note, 105), fontsize=8, va="top", color="#444444")
    runfolder.save_figure(fig, path, dpi=200)
    plotting.close(fig)
    return path


def _layer_order(frames: Sequence[pd.Series]) -> list[str]:
    order = list(dict.fromkeys(v for f in frames for v in f if v != ALL_LAYERS))
    return order


def top_concepts_figure(
    counts: pd.DataFrame, model: str, path: Path, *, top: int = 10, note: str = ""
) -> Path:
    """Horizontal bars: the ``top`` concepts of each layer of one model, by units."""
    table = counts[(counts["model"] == model) & (counts["layer"] != ALL_LAYERS)]
    layers = _layer_order([table["layer"]])
    cols = 2 if len(layers) > 1 else 1
    rows = int(np.ceil(len(layers) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.3 * rows + 0.4), squeeze=False)
    for ax, layer in zip(axes.flat, layers, strict=False):
        part = table[table["layer"] == layer].head(top)[::-1]
        ax.barh([_short(c) for c in part["concept"]], part["units"], color="#4e79a7")
        total = int(counts[(counts.model == model) & (counts.layer == layer)]["units"].sum())
        ax.set_title(f"{layer} ({total} units)")
        ax.set_xlabel("units")
        ax.tick_params(axis="y", labelsize=8)
        for y, v in enumerate(part["units"]):
            ax.text(v, y, f" {v}", va="center", fontsize=8)
        ax.set_xlim(0, part["units"].max() * 1.18)
    for ax in list(axes.flat)[len(layers) :]:
        ax.axis("off")
    fig.suptitle(f"Concepts labelling most units: {model}")
    fig.tight_layout()
    return _save(fig, path, note)


def model_name(model: str) -> str:
    """The training set a dissected model is named by in figures and reports."""
    return "Places365" if "places" in model.lower() else "ImageNet"


def said_count(units: int, low: int, high: int) -> str:
    """A concept's units with their range over the runs when they differ: ``60 (58–61)``."""
    return f"{units} ({low}–{high})" if low != high else str(units)


def top_line(top: pd.DataFrame, model: str, layer: str, n: int) -> str:
    """The ``n`` concepts labelling most units of a model's layer in
    ``concept_count_ranges.csv``: ``dotted 23, stripe 8 (7–8), checker 7``."""
    part = top[(top["model"] == model) & (top["layer"] == layer)].sort_values("rank").head(n)
    return ", ".join(
        f"{c} {said_count(u, lo, hi)}"
        for c, u, lo, hi in zip(
            part["concept"], part["units"], part["units_min"], part["units_max"], strict=True
        )
    )


def category_figure(
    shares: pd.DataFrame, top: pd.DataFrame, path: Path, *, concepts: int = 3
) -> Path | None:
    """One row per model and layer (and all its layers): the main run's share of the
    layer's units per group of WordNet categories, stacked, and beside it the
    ``concepts`` concepts labelling most units (``top``: concept_count_ranges.csv), with
    their range over the runs."""
    main = shares[shares["main"] & shares["group"].isin(STACKED)]
    if main.empty:
        return None
    layers = _layer_order([main["layer"]])
    labels = dict(zip(main["label"], main["model"], strict=True))  # one per file analysed
    pooled = main.groupby(["label", "group"], sort=False, as_index=False)[
        ["units", "units_group"]
    ].sum()
    table = with_share(pd.concat([main, pooled.assign(layer=ALL_LAYERS)]))
    table = table.set_index(["label", "layer", "group"])["share"]
    models = list(labels)
    rows = [(m, layer) for m in models for layer in [*layers, ALL_LAYERS]]
    step = len(layers) + 1.5  # a gap between the models
    ys = [-(i * step + j) for i in range(len(models)) for j in range(len(layers) + 1)]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.155 * len(rows) + 0.7))
    left = np.zeros(len(rows))
    for group in STACKED:
        values = np.array([table.get((m, layer, group), 0.0) for m, layer in rows])
        ax.barh(ys, values, 0.8, left=left, color=GROUP_COLORS[group], label=GROUP_NAMES[group])
        for y, v, x in zip(ys, values, left, strict=True):
            if v >= 0.13:
                ax.text(x + v / 2, y, f"{v:.0%}", ha="center", va="center", fontsize=7)
        left += values
    ax.set_yticks(ys, [f"{model_name(labels[m])} {layer}" for m, layer in rows], fontsize=7)
    beside = ax.get_yaxis_transform()
    for y, (m, layer) in zip(ys, rows, strict=True):
        line = top_line(top, m, layer, concepts)
        ax.text(1.03, y, line, ha="left", va="center", fontsize=7, transform=beside)
    ax.set_xlim(0, 1)
    ax.set_ylim(min(ys) - 0.6, 0.6)
    ax.set_xticks([0, 0.5, 1], ["0%", "50%", "100%"], fontsize=7)
    for x, title in ((0.0, "units by WordNet category, run a"), (1.03, CONCEPTS_TITLE)):
        ax.text(x, 1.01, title, fontsize=7, style="italic", va="bottom", transform=ax.transAxes)
    fig.legend(
        *ax.get_legend_handles_labels(),
        fontsize=7,
        loc="lower center",
        ncol=len(STACKED),
        frameon=False,
        handlelength=1.0,
        columnspacing=1.0,
        borderaxespad=0.1,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.subplots_adjust(right=0.5)
    return _save(fig, path)


CONCEPTS_TITLE = "concepts labelling most units (range over the runs)"


def distinct_figure(distinct: pd.DataFrame, path: Path, note: str = "") -> Path:
    """Left: distinct concepts per layer and model. Right: share of units per Broden
    category, per model and layer."""
    table = distinct[distinct["layer"] != ALL_LAYERS]
    layers = _layer_order([table["layer"]])
    models = list(dict.fromkeys(table["model"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.6), width_ratios=[1, 1.3])
    width = 0.8 / len(models)
    x = np.arange(len(layers))
    for i, model in enumerate(models):
        part = table[table["model"] == model].set_index("layer").reindex(layers)
        bars = left.bar(
            x + i * width,
            part["distinct_concepts"],
            width,
            label=_short(model, 30),
            color=MODEL_COLORS[i % len(MODEL_COLORS)],
        )
        left.bar_label(bars, fontsize=7, padding=1)
    left.set_xticks(x + width * (len(models) - 1) / 2, layers, rotation=30)
    left.set_ylabel("distinct concepts")
    left.set_title("Distinct concepts")
    left.set_ylim(0, table["distinct_concepts"].max() * 1.35)
    left.legend(fontsize=8, loc="upper left")

    bottoms = np.zeros(len(table))
    ordered = table.assign(
        _m=table["model"].map({m: i for i, m in enumerate(models)}),
        _l=table["layer"].map({layer: i for i, layer in enumerate(layers)}),
    ).sort_values(["_m", "_l"])
    # one group of bars per model, a gap between groups
    xs = (ordered["_m"] * (len(layers) + 1) + ordered["_l"]).to_numpy(dtype=float)
    for category in (*CATEGORIES, OTHER):
        share = (ordered[f"units_{category}"] / ordered["units"]).to_numpy()
        right.bar(xs, share, bottom=bottoms, color=CATEGORY_COLORS[category], label=category)
        bottoms += share
    right.set_xticks(xs, ordered["layer"], rotation=90, fontsize=8)
    for i, model in enumerate(models):
        centre = xs[ordered["_m"].to_numpy() == i].mean()
        right.text(
            centre,
            -0.2,
            textwrap.fill(model, 16),
            ha="center",
            va="top",
            fontsize=8,
            transform=right.get_xaxis_transform(),
        )
    right.set_ylabel("share of units")
    right.set_ylim(0, 1)
    right.set_title("Units by Broden category")
    right.legend(fontsize=7, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    fig.tight_layout()
    return _save(fig, path, note)


def similarity_figure(inputs: Sequence[Descriptions], path: Path, note: str = "") -> Path | None:
    """Box plots of the similarity score of each unit's label, per layer and model."""
    usable = [
        d for d in inputs if "similarity" in d.table.columns and d.table["similarity"].notna().any()
    ]
    if not usable:
        return None
    fig, axes = plt.subplots(1, len(usable), figsize=(WIDTH, 3.2), squeeze=False)
    for ax, d, color in zip(axes.flat, usable, MODEL_COLORS, strict=False):
        data = [d.table[d.table["layer"] == layer]["similarity"].dropna() for layer in d.layers]
        parts = ax.violinplot(data, showmedians=True)
        for body in parts["bodies"]:
            body.set_facecolor(color)
            body.set_alpha(0.6)
        ax.set_xticks(np.arange(1, len(d.layers) + 1), d.layers, rotation=30)
        ax.set_title(_short(d.label, 34))
        ax.set_ylabel("similarity of the label")
    fig.suptitle("Similarity scores of the labels per layer (scales differ between functions)")
    fig.tight_layout()
    return _save(fig, path, note)


def heatmap_figure(matrix: pd.DataFrame, path: Path, note: str = "") -> Path:
    """Units per concept (rows) and model:layer (columns)."""
    height = max(3.0, 0.22 * len(matrix) + 1.6)
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    data = matrix.to_numpy()
    image = ax.imshow(data, aspect="auto", cmap="viridis")
    ax.set_yticks(np.arange(len(matrix)), [_short(c, 28) for c in matrix.index], fontsize=8)
    ax.set_xticks(
        np.arange(matrix.shape[1]),
        [textwrap.fill(str(c).replace(": ", " | "), 22) for c in matrix.columns],
        rotation=60,
        ha="right",
        fontsize=8,
    )

    for (i, j), v in np.ndenumerate(data):
        if v:
            ax.text(
                j,
                i,
                str(v),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v < data.max() * 0.6 else "black",
            )
    fig.colorbar(image, ax=ax, label="units", fraction=0.04)
    ax.set_title("Concept × layer: units labelled with each of the most frequent concepts")
    fig.tight_layout()
    return _save(fig, path, note)


def overlap_figure(overlap: pd.DataFrame, path: Path, note: str = "") -> Path | None:
    """Per model pair: distinct concepts only in a, shared, only in b, and the Jaccard index."""
    if overlap.empty:
        return None
    pairs = list(dict.fromkeys(zip(overlap["model_a"], overlap["model_b"], strict=True)))
    fig, axes = plt.subplots(len(pairs), 1, figsize=(WIDTH, 3.0 * len(pairs)), squeeze=False)
    for ax, (a, b) in zip(axes.flat, pairs, strict=True):
        part = overlap[(overlap.model_a == a) & (overlap.model_b == b)]
        x = np.arange(len(part))
        ax.bar(x, part["only_a"], color=MODEL_COLORS[0], label=f"only {_short(a, 30)}")
        ax.bar(x, part["shared"], bottom=part["only_a"], color="#9c755f", label="shared")
        ax.bar(
            x,
            part["only_b"],
            bottom=part["only_a"] + part["shared"],
            color=MODEL_COLORS[1],
            label=f"only {_short(b, 30)}",
        )
        ax.set_xticks(x, part["layer"])
        ax.set_ylabel("distinct concepts")
        ax.set_ylim(0, (part["only_a"] + part["shared"] + part["only_b"]).max() * 1.55)
        twin = ax.twinx()
        twin.plot(x, part["jaccard"], "ko-", label="Jaccard")
        twin.set_ylim(0, max(0.05, part["jaccard"].max() * 1.55))
        twin.set_ylabel("Jaccard index")
        for xi, j in zip(x, part["jaccard"], strict=True):
            twin.annotate(
                f"{j:.2f}",
                (xi, j),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=8, loc="upper left", ncol=2)
        ax.set_title(
            f"Shared and model-specific concepts: {_short(a, 30)} vs {_short(b, 30)}", pad=18
        )
    fig.tight_layout()
    return _save(fig, path, note)


def over_represented_figure(
    table: pd.DataFrame, path: Path, *, top: int = 10, note: str = ""
) -> Path | None:
    """Per pair (all layers pooled, or the one common layer): the concepts most
    over-represented in each model, as log2 ratios of their shares of units."""
    if table.empty:
        return None
    pairs = list(dict.fromkeys(zip(table["model_a"], table["model_b"], strict=True)))
    fig, axes = plt.subplots(
        len(pairs), 1, figsize=(WIDTH, 0.25 * 2 * top * len(pairs) + 1.2), squeeze=False
    )
    for ax, (a, b) in zip(axes.flat, pairs, strict=True):
        part = table[(table.model_a == a) & (table.model_b == b)]
        layer = ALL_LAYERS if (part["layer"] == ALL_LAYERS).any() else part["layer"].iloc[0]
        part = part[part["layer"] == layer].sort_values("log2_ratio")
        chosen = pd.concat([part.head(top), part.tail(top)]).drop_duplicates("concept")
        colors = [MODEL_COLORS[0] if r > 0 else MODEL_COLORS[1] for r in chosen["log2_ratio"]]
        labels = [
            f"{_short(c)} ({ua}/{ub})"
            for c, ua, ub in zip(
                chosen["concept"], chosen["units_a"], chosen["units_b"], strict=True
            )
        ]
        ax.barh(np.arange(len(chosen)), chosen["log2_ratio"], color=colors)
        ax.set_yticks(np.arange(len(chosen)), labels, fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"log2(share in {_short(a, 26)} / share in {_short(b, 26)})")
        ax.set_title(f"Over-represented concepts ({layer}; units a/b in brackets)")
    fig.tight_layout()
    return _save(fig, path, note)


def concentration_figure(conc: pd.DataFrame, path: Path, note: str = "") -> Path:
    table = conc[conc["layer"] != ALL_LAYERS]
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.0))
    for i, (model, part) in enumerate(table.groupby("model", sort=False)):
        color = MODEL_COLORS[i % len(MODEL_COLORS)]
        left.plot(
            part["layer"], part["normalized_entropy"], "o-", color=color, label=_short(model, 30)
        )
        right.plot(part["layer"], part["top5_share"], "o-", color=color, label=_short(model, 30))
    left.set_ylabel("entropy / log2(units)")
    left.set_title("Diversity of labels (1 = all different)")
    left.set_ylim(0, 1.02)
    right.set_ylabel("share of units")
    right.set_title("Share of units on the 5 top concepts")
    right.set_ylim(0, 1.0)
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path, note)


AGREEMENT_MEASURES = (
    ("same_concept_rate", "same concept"),
    ("same_category_rate", "same Broden category"),
    ("published_in_our_top5_rate", "reference label in our top 5"),
)


def agreement_figure(
    agreement: pd.DataFrame, path: Path, note: str = "", verdicts: pd.DataFrame | None = None
) -> Path | None:
    """One panel per analysed model: per reference file and layer, the units with the same
    concept, the same Broden category, the reference's label among our top 5 (measures
    known somewhere); with ``verdicts``, a black line at the references' agreement with
    each other."""
    if agreement.empty:
        return None
    measures = [(c, n) for c, n in AGREEMENT_MEASURES if agreement[c].notna().any()]
    models = list(dict.fromkeys(agreement["model"]))
    fig, axes = plt.subplots(
        len(models), 1, figsize=(WIDTH, 2.9 * len(models) + 0.3), squeeze=False
    )
    self_rate = (
        verdicts.set_index(["model", "layer"])["reference_self"]
        if verdicts is not None and not verdicts.empty
        else None
    )
    width = 0.8 / len(measures)
    for ax, model in zip(axes.flat, models, strict=True):
        part = agreement[agreement["model"] == model]
        x = np.arange(len(part))
        for i, (column, name) in enumerate(measures):
            values = part[column].to_numpy(dtype=float)
            bars = ax.bar(
                x + i * width, np.nan_to_num(values), width, label=name, color=MODEL_COLORS[i]
            )
            ax.bar_label(
                bars,
                labels=["n/a" if v != v else f"{v:.0%}" for v in values],
                fontsize=8,
                rotation=90,
                padding=2,
            )
        if self_rate is not None:
            for xi, layer in zip(x, part["layer"], strict=True):
                if (model, layer) in self_rate.index:
                    ax.hlines(
                        self_rate[(model, layer)],
                        xi - width / 2,
                        xi + (len(measures) - 0.5) * width,
                        color="black",
                        lw=1.5,
                    )
            ax.plot([], [], color="black", lw=1.5, label="references with each other")
        # the panel names the model: a reference of it is named by what follows ("run a")
        names = [
            r.removeprefix(m).strip(" ()") if r.startswith(f"{m} (") else r
            for r, m in zip(part["published"], part["canonical_model"], strict=True)
        ]
        labels = [
            textwrap.fill(_short(n, 30), 15, break_long_words=False) + f"\n{layer}"
            for n, layer in zip(names, part["layer"], strict=True)
        ]
        ax.set_xticks(x + width * (len(measures) - 1) / 2, labels, fontsize=8)
        ax.set_ylim(0, 1.45)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_ylabel("share of units")
        ax.legend(fontsize=8, loc="upper left", ncol=len(measures) + 1)
        ax.set_title(f"{_short(model, 40)} against published or reference labels")
    fig.tight_layout()
    return _save(fig, path, note)


def stability_figure(
    agreement: pd.DataFrame, by_similarity: pd.DataFrame, path: Path, note: str = ""
) -> Path | None:
    """Left: per layer and model, the share of units labelled alike by every run. Right:
    that share per quartile of the main run's similarity score, per model and layer."""
    if agreement.empty:
        return None
    # two runs: their one pair; more: the units all runs agree on
    rows = agreement[
        agreement["run_a"].eq("all") | ~agreement.duplicated(["model", "layer"], keep=False)
    ]
    layers = _layer_order([rows["layer"]]) + (
        [ALL_LAYERS] if (rows.layer == ALL_LAYERS).any() else []
    )
    models = list(dict.fromkeys(rows["model"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.4), width_ratios=[1, 1.2])
    width = 0.8 / len(models)
    x = np.arange(len(layers))
    for i, model in enumerate(models):
        part = rows[rows["model"] == model].set_index("layer").reindex(layers)
        values = part["same_label_rate"].to_numpy()
        bars = left.bar(
            x + i * width,
            values,
            width,
            label=_short(model, 30),
            color=MODEL_COLORS[i % len(MODEL_COLORS)],
        )
        left.bar_label(
            bars,
            labels=["" if v != v else f"{v:.0%}" for v in values],
            label_type="center",
            rotation=90,
            color="white",
            fontsize=8,
        )
    left.set_xticks(x + width * (len(models) - 1) / 2, layers, rotation=30)
    left.set_ylim(0, 1.35)
    left.set_ylabel("share of units, same label")
    left.set_title("Units labelled alike by every run")
    left.legend(fontsize=8, loc="upper center", ncol=2)

    styles = ["o-", "s--", "^:", "d-.", "v-", "x--"]
    table = by_similarity[by_similarity["layer"] != ALL_LAYERS]
    for i, model in enumerate(models):
        mine = table[table["model"] == model]
        for j, layer in enumerate(_layer_order([mine["layer"]])):
            part = mine[mine["layer"] == layer].sort_values("band")
            right.plot(
                part["band"],
                part["same_label_rate"],
                styles[j % len(styles)],
                color=MODEL_COLORS[i % len(MODEL_COLORS)],
                label=f"{_short(model, 22)}, {layer}",
                ms=4,
            )
    if not table.empty:
        bands = int(table["band"].max())
        right.set_xticks(
            np.arange(1, bands + 1),
            [
                "lowest" if b == 1 else "highest" if b == bands else str(b)
                for b in range(1, bands + 1)
            ],
        )
        right.legend(fontsize=8, loc="lower right")
    right.set_xlabel("similarity of the main run's label (quartile within the layer)")
    right.set_ylabel("share of units, same label")
    right.set_ylim(max(0.0, (table["same_label_rate"].min() if len(table) else 0) - 0.1), 1.02)
    right.set_title("Agreement by similarity score")
    fig.suptitle("Label stability: runs of the same model compared unit by unit")
    fig.tight_layout()
    return _save(fig, path, note)
