"""The tuner's choice: one trial per image, jointly (the targets are about the means), and
the Pareto front of each image's trials.

The safe choice (:func:`choose`): every image keeps at least ``image_floor`` x its
defaults' IoU (lime's defaults always qualify), and the set keeps the mean IoU at
``iou_ratio`` x the defaults' mean. Within ``time_ratio`` x the defaults' summed cost,
the set with the best mean IoU wins; when no set keeping the IoU target fits there, the
time is relaxed (never the IoU): the cheapest set that keeps it. Costs are the counted
seconds of the trials (:mod:`explainlab.assignment.cost`), so the same trials give the same
choice on a quiet or a busy machine. Runs not measured (NaN IoU) never count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explainlab.assignment.settings import TuneSettings
from explainlab.lime.params import ParamFile, errors
from explainlab.lime.settings import DEFAULT_MASK_K

COST = "cost_seconds"
TIME_STEP = 0.01  # seconds: the cost grid of the joint choice (costs are rounded up)...
MAX_STEPS = 20_000  # ...coarser where the costs are long, to bound the table's size


def pareto_front(points: pd.DataFrame, cost: str = COST) -> pd.DataFrame:
    """Rows not dominated by another (no other is at least as cheap and at least as good,
    and strictly better in one), sorted by cost."""
    ordered = points.sort_values([cost, "iou"], ascending=[True, False])
    best = -math.inf
    keep = []
    for index, row in ordered.iterrows():
        if row["iou"] > best:
            keep.append(index)
            best = row["iou"]
    return ordered.loc[keep]


@dataclass(kw_only=True)
class Choice:
    picked: dict[str, pd.Series]  # image key -> its chosen trial row
    reasons: dict[str, str]  # image key -> why that one
    verdict: str  # one sentence: targets met, or which one is missed
    iou_kept: float  # chosen mean IoU / the defaults'
    cost_kept: float  # chosen mean cost / the defaults'
    iou_met: bool
    time_met: bool
    baselines: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.iou_met and self.time_met


def baseline_rows(trials: pd.DataFrame) -> dict[str, pd.Series]:
    """Each image's lime-default trial, at the grader's mask size where there are several."""
    base = trials[trials["kind"] == "baseline"]
    preferred = base[base["mask_k"] == DEFAULT_MASK_K]
    rows = pd.concat([preferred, base]).drop_duplicates("key")
    return {r["key"]: r for _, r in rows.iterrows()}


def _options(trials: pd.DataFrame, base: pd.Series, floor: float) -> pd.DataFrame:
    """The image's baseline, and its finished candidates that keep the floor."""
    own = trials[trials["key"] == base["key"]]
    iou = own["iou"].astype(float)
    good = (own["kind"] == "search") & (own["status"] == "ok") & iou.notna()
    good &= iou >= floor * _value(base["iou"]) - 1e-12
    return pd.concat([base.to_frame().T, own[good]], ignore_index=True)


def _value(x: Any) -> float:
    x = float(x)
    return 0.0 if math.isnan(x) else x


def _best_by_cost(
    options: dict[str, pd.DataFrame], step: float, steps: int
) -> tuple[np.ndarray, list[np.ndarray], dict[str, np.ndarray]]:
    """Multiple-choice knapsack by dynamic programming: best[t] is the largest summed IoU
    of one option per image within t cost steps (costs rounded up to the grid)."""
    cost = {
        k: np.ceil(o[COST].to_numpy(float) / step - 1e-9).astype(int) for k, o in options.items()
    }
    best = np.zeros(steps + 1)
    picks = []
    for k, o in options.items():
        iou, c = np.nan_to_num(o["iou"].to_numpy(float)), cost[k]
        table = np.full((len(c), steps + 1), -np.inf)
        for i in range(len(c)):
            if c[i] <= steps:
                table[i, c[i] :] = best[: steps + 1 - c[i]] + iou[i]
        picks.append(np.argmax(table, axis=0))
        best = table.max(axis=0)
    return best, picks, cost


def _trace(options, picks, cost, t: int) -> dict[str, pd.Series]:
    picked = {}
    for k, pick in zip(reversed(list(options)), reversed(picks), strict=True):
        i = int(pick[t])
        picked[k] = options[k].iloc[i]
        t -= int(cost[k][i])
    return picked


def choose(trials: pd.DataFrame, settings: TuneSettings) -> Choice:
    """One trial per image by the safe rule (see the module docstring)."""
    bases = baseline_rows(trials)
    keys = [k for k in dict.fromkeys(trials["key"]) if k in bases]
    floor = settings.image_floor
    options = {k: _options(trials, bases[k], floor) for k in keys}
    base_cost = sum(_value(bases[k][COST]) for k in keys)
    base_iou = sum(_value(bases[k]["iou"]) for k in keys)
    top = sum(float(o[COST].max()) for o in options.values())
    step = max(TIME_STEP, top / MAX_STEPS)
    steps = math.floor(top / step + 1e-9) + 1
    best, picks, cost = _best_by_cost(options, step, steps)
    budget = min(math.floor(settings.time_ratio * base_cost / step + 1e-9), steps)
    target = settings.iou_ratio * base_iou - 1e-9
    if best[budget] >= target:  # the best mean IoU within the time target, fastest of equals
        t = int(np.flatnonzero(best[: budget + 1] >= best[budget] - 1e-12)[0])
    elif (best >= target).any():  # relax the time, never the IoU
        t = int(np.flatnonzero(best >= target)[0])
    else:  # the IoU target is out of reach (iou_ratio above what was found)
        t = int(np.flatnonzero(best >= best.max() - 1e-12)[0])
    picked = _trace(options, picks, cost, t)
    iou_kept = _ratio(sum(_value(picked[k]["iou"]) for k in keys), base_iou)
    cost_kept = _ratio(sum(_value(picked[k][COST]) for k in keys), base_cost)
    iou_met = iou_kept >= settings.iou_ratio - 1e-9
    time_met = cost_kept <= settings.time_ratio + 1e-9
    reasons = {k: _reason(picked[k], bases[k], len(options[k]) - 1, floor) for k in keys}
    verdict = _verdict(iou_kept, cost_kept, iou_met, time_met, settings)
    return Choice(
        picked=picked,
        reasons=reasons,
        verdict=verdict,
        iou_kept=iou_kept,
        cost_kept=cost_kept,
        iou_met=iou_met,
        time_met=time_met,
        baselines=bases,
    )


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else (1.0 if a == b else math.inf)


def _reason(chosen: pd.Series, base: pd.Series, alternatives: int, floor: float) -> str:
    if chosen["kind"] == "baseline":
        if alternatives == 0:
            return (
                f"lime's defaults kept: no candidate kept {floor:g} x their IoU"
                if floor > 0
                else "lime's defaults kept: no candidate finished"
            )
        return "lime's defaults kept: the joint choice needs their IoU"
    iou = _ratio(_value(chosen["iou"]), _value(base["iou"]))
    cost = _ratio(_value(chosen[COST]), _value(base[COST]))
    return (
        f"{chosen['group']}, {int(chosen['num_samples'])} samples: IoU x{iou:.2f}, "
        f"cost x{cost:.2f} of the defaults'"
    )


def _verdict(iou: float, cost: float, iou_met: bool, time_met: bool, s: TuneSettings) -> str:
    floor = f"; no image below {s.image_floor:g} x its defaults' IoU" if s.image_floor else ""
    if iou_met and time_met:
        return (
            f"target met: mean IoU x{iou:.2f} of lime's defaults' (>= {s.iou_ratio:g}) at "
            f"x{cost:.2f} of their cost (<= {s.time_ratio:g}){floor}"
        )
    if iou_met:
        return (
            f"time target missed: the cheapest choice keeping the mean IoU at >= "
            f"{s.iou_ratio:g} x lime's defaults' costs x{cost:.2f} of their cost (target "
            f"<= {s.time_ratio:g}), mean IoU x{iou:.2f}{floor}"
        )
    return (
        f"IoU target missed: the best mean IoU found is x{iou:.2f} of lime's defaults' "
        f"(target >= {s.iou_ratio:g}), at x{cost:.2f} of their cost{floor}"
    )


def chosen_record(
    trials: pd.DataFrame, chosen: pd.Series, base: pd.Series, reason: str
) -> dict[str, Any]:
    return {
        "key": chosen["key"],
        "baseline_iou": float(base["iou"]),
        # the defaults' IoU at the lowest and highest of the tuner's seeds: the sampling noise
        "baseline_iou_min": float(base["iou_min"]),
        "baseline_iou_max": float(base["iou_max"]),
        "baseline_cost": float(base[COST]),
        "baseline_wall": float(base["wall_seconds"]),
        "chosen_iou": float(chosen["iou"]),
        "chosen_cost": float(chosen[COST]),
        "chosen_wall": float(chosen["wall_seconds"]),
        "iou_ratio": _ratio(float(chosen["iou"]), float(base["iou"])),
        "cost_ratio": _ratio(float(chosen[COST]), float(base[COST])),
        "mask_k": int(chosen["mask_k"]),
        "trials": int(trials.loc[trials["kind"] == "search", "params"].nunique()),
        "groups": int(trials["group"].nunique()),
        "chosen": "defaults" if chosen["kind"] == "baseline" else "search",
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
