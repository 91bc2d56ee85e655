"""The tuner's choice: one trial per image, jointly (the target is about the means), and
the Pareto front of each image's trials."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from explainlab.lime.params import ParamFile, errors
from explainlab.lime.settings import DEFAULT_MASK_K, TuneSettings


def pareto_front(points: pd.DataFrame) -> pd.DataFrame:
    """Rows not dominated by another (no other is at least as fast and at least as good,
    and strictly better in one), sorted by time."""
    ordered = points.sort_values(["seconds", "iou"], ascending=[True, False])
    best = -math.inf
    keep = []
    for index, row in ordered.iterrows():
        if row["iou"] > best:
            keep.append(index)
            best = row["iou"]
    return ordered.loc[keep]


TIME_STEP = 0.01  # seconds: the time grid of the joint choice (times are rounded up)...
MAX_STEPS = 20_000  # ...coarser where the budget is long, to bound the table's size


def choose_jointly(
    trials: pd.DataFrame, settings: TuneSettings
) -> dict[str, tuple[pd.Series, str]]:
    """One row of ``trials`` per image (``key``): lime's defaults (``kind`` baseline) or a
    finished search candidate, maximising the summed IoU subject to the summed time being
    at most ``time_ratio`` x the defaults' summed time. The reason given with each row
    says whether the chosen set keeps ``iou_ratio`` x the defaults' mean IoU.

    A multiple-choice knapsack, solved exactly by dynamic programming over time on a
    ``TIME_STEP`` grid (at most ``MAX_STEPS`` steps); times are rounded up to it, so the
    chosen set keeps the budget. Among sets of equal IoU the fastest wins. When even the
    fastest candidates overrun the budget, each image gets its fastest one."""
    keys = list(dict.fromkeys(trials["key"]))
    usable = trials[(trials["kind"] == "baseline") | (trials["status"] == "ok")]
    options = {k: usable[usable["key"] == k].reset_index(drop=True) for k in keys}
    baseline = trials[trials["kind"] == "baseline"].drop_duplicates("key")
    budget = settings.time_ratio * float(baseline["seconds"].sum())
    step = max(TIME_STEP, budget / MAX_STEPS)
    steps = math.floor(budget / step + 1e-9)
    cost = {
        k: np.ceil(o["seconds"].to_numpy() / step - 1e-9).astype(int) for k, o in options.items()
    }
    picked: dict[str, pd.Series] = {}
    if sum(int(c.min()) for c in cost.values()) > steps:
        for k, o in options.items():
            picked[k] = o.loc[int(np.argmin(cost[k]))]
        how = (
            f"no set of candidates fits {settings.time_ratio:g} x the defaults' mean time: "
            "each image's fastest kept"
        )
    else:
        # best[t]: the largest summed IoU of the images so far within t time steps.
        best = np.zeros(steps + 1)
        picks = []
        for k in keys:
            iou, c = options[k]["iou"].to_numpy(dtype=float), cost[k]
            candidates_best = np.full((len(c), steps + 1), -np.inf)
            for i in range(len(c)):
                if c[i] <= steps:
                    candidates_best[i, c[i] :] = best[: steps + 1 - c[i]] + iou[i]
            picks.append(np.argmax(candidates_best, axis=0))
            best = candidates_best.max(axis=0)
        t = int(np.flatnonzero(best >= best.max() - 1e-12)[0])  # the fastest of the best
        for k, pick in zip(reversed(keys), reversed(picks), strict=True):
            i = int(pick[t])
            picked[k] = options[k].loc[i]
            t -= int(cost[k][i])
        how = f"joint: best mean IoU within {settings.time_ratio:g} x the defaults' mean time"
    baseline_iou = float(baseline["iou"].sum())
    if baseline_iou > 0:
        kept = sum(float(picked[k]["iou"]) for k in keys) / baseline_iou
        met = "met" if kept >= settings.iou_ratio else "not met"
        how += f"; mean IoU x{kept:.2f} of the defaults' (target >= {settings.iou_ratio:g}: {met})"
    return {k: (picked[k], how) for k in keys}


def chosen_record(trials: pd.DataFrame, chosen: pd.Series, reason: str) -> dict[str, Any]:
    baseline = trials[trials["kind"] == "baseline"].iloc[0]
    return {
        "key": chosen["key"],
        "baseline_iou": float(baseline["iou"]),
        "baseline_seconds": float(baseline["seconds"]),
        "chosen_iou": float(chosen["iou"]),
        "chosen_seconds": float(chosen["seconds"]),
        "iou_ratio": float(chosen["iou"] / baseline["iou"]) if baseline["iou"] > 0 else None,
        "time_ratio": float(chosen["seconds"] / baseline["seconds"]),
        "mask_k": int(chosen["mask_k"]),
        "trials": int(trials.loc[trials["kind"] == "search", "params"].nunique()),
        "reason": reason,
        "params": json.loads(chosen["params"]),
    }


def param_file(chosen: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for c in chosen:
        table = dict(c["params"])
        if c["mask_k"] != DEFAULT_MASK_K:
            table["mask_num_features"] = c["mask_k"]
        out[c["key"]] = table
    found = errors(ParamFile({}, out, "tuned parameters").problems())
    if found:  # candidates are built from checked parts: this would be our bug
        raise RuntimeError("\n".join(map(str, found)))
    return out
