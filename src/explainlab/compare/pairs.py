"""Agreement between every two maps of an image (each method compared, LIME's weight map
among them): every pair measure of the registry (:mod:`explainlab.measures.pair` says
what each one is), and their means over the images as a method-by-method matrix.

Rows of ``pairs.csv``: one per image x unordered pair of methods (``method_a`` before
``method_b`` in the registry's order) x measure, in the registry's order."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from explainlab.masks import normalise
from explainlab.measures import get_measure, measures
from explainlab.measures.pair import MapPair, MapView
from explainlab.methods import method_names

COLUMNS = ["key", "method_a", "method_b", "measure", "value"]
# The measures of the matrix figure and of the findings' "most and least alike": the
# rank correlation of the whole maps (no threshold) and the area-matched IoU of their tops.
MATRIX_MEASURES: tuple[str, ...] = ("pair_rho", "pair_iou_top")


def lime_map(weight_map: np.ndarray) -> np.ndarray:
    """LIME's superpixel weights as a map, min-max normalised as every map is."""
    return normalise(weight_map)


def in_order(methods: Sequence[str]) -> list[str]:
    """``methods`` in the registry's order (a name that is no method last, as given)."""
    known = [m for m in method_names() if m in methods]
    return known + [m for m in methods if m not in known]


def pair_rows(
    key: str,
    maps: Mapping[str, np.ndarray],
    *,
    threshold: float,
    top: float,
    rng: Callable[[str], np.random.Generator],
) -> list[dict]:
    """Every pair measure of every two of ``maps`` (method -> (H, W) map in [0, 1]);
    ``rng(method)`` breaks the ties of that method's top mask."""
    order = in_order(list(maps))
    views = {m: MapView.of(maps[m], threshold=threshold, top=top, rng=rng(m)) for m in order}
    specs = measures("pair")
    rows = []
    for a, b in itertools.combinations(order, 2):
        pair = MapPair(views[a], views[b])
        rows += [
            {"key": key, "method_a": a, "method_b": b, "measure": s.name, "value": s.compute(pair)}
            for s in specs
        ]
    return rows


def pair_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def pair_means(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per measure and pair: the images it was measured on and its mean, min and max."""
    order = in_order(list(dict.fromkeys([*pairs["method_a"], *pairs["method_b"]])))
    rank = {m: i for i, m in enumerate(order)}
    measure_rank = {s.name: i for i, s in enumerate(measures("pair"))}
    grouped = pairs.groupby(["measure", "method_a", "method_b"], sort=False)["value"]
    table = grouped.agg(images="count", mean="mean", min="min", max="max").reset_index()
    table = table.sort_values(
        ["measure", "method_a", "method_b"],
        key=lambda c: c.map(measure_rank if c.name == "measure" else rank),
    )
    return table.reset_index(drop=True)


def matrix(means: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The symmetric method-by-method table of ``measure``'s means (the diagonal: NaN)."""
    part = means[means["measure"] == measure]
    order = in_order(list(dict.fromkeys([*part["method_a"], *part["method_b"]])))
    table = pd.DataFrame(np.nan, index=order, columns=order)
    for _, row in part.iterrows():
        table.loc[row["method_a"], row["method_b"]] = row["mean"]
        table.loc[row["method_b"], row["method_a"]] = row["mean"]
    return table


def extremes(means: pd.DataFrame, measure: str) -> tuple[pd.Series, pd.Series] | None:
    """The pairs whose mean ``measure`` is best and worst (None without two values)."""
    spec = get_measure(measure)
    part = means[(means["measure"] == measure) & means["mean"].notna()]
    if len(part) < 2:
        return None
    ordered = part.sort_values("mean", ascending=spec.direction == "lower", kind="stable")
    return ordered.iloc[0], ordered.iloc[-1]
