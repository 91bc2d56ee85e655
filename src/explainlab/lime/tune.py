"""``explainlab lime tune``: parameters per image that keep the IoU at a fraction of the time.

For each image: the consensus reference (cached, computed before the budget clock starts),
lime's default parameters as the baseline, then candidates from the search space until the
image's share of the time budget is spent. Every candidate runs as the grader runs it
(plain lime, timed) at ``repeats`` sampling seeds (1, 2, ...; the scoreboard uses 0, so a
later ``score`` is an independent check). The target is about the ten images together
(mean IoU >= ``iou_ratio`` x the defaults', mean time <= ``time_ratio`` x theirs), so the
choice is joint (:func:`choose_jointly`): one candidate per image, lime's defaults
included, with the highest mean IoU whose mean time stays within ``time_ratio`` x the
defaults' mean time. An image that explains cheaply can then pay for one that needs more
samples.

Outputs under ``<run>/lime_tune/``: trials.csv (every run), pareto.csv (each image's Pareto
front of time vs IoU), pareto.png, summary.csv (baseline vs chosen per image), and
params.json: the chosen parameter file, ready for ``explainlab lime export --params``.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.cam.run import source_fingerprints
from explainlab.images import DEFAULT_MAX_PIXELS, Failure, ImageSource, Sample, load_samples
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.params import ParamFile, complete, errors, from_readable, to_readable
from explainlab.lime.reference import Reference, ReferenceSettings, consensus
from explainlab.lime.run import _versions
from explainlab.lime.score import DEFAULT_MASK_K, evaluate
from explainlab.models import LoadedModel, load_model
from explainlab.plotting import close

# Segmentations tried (readable form; None is lime's default quickshift). slic gets
# start_label=0 because lime maps feature i to superpixel id i.
NAMED_SEGMENTATIONS: dict[str, dict[str, Any] | None] = {
    "default": None,
    "quickshift6": {"algo_type": "quickshift", "kernel_size": 6, "max_dist": 200, "ratio": 0.2},
    "slic30": {"algo_type": "slic", "n_segments": 30, "compactness": 10, "start_label": 0},
    "slic60": {"algo_type": "slic", "n_segments": 60, "compactness": 10, "start_label": 0},
    "felzenszwalb": {"algo_type": "felzenszwalb", "scale": 200, "sigma": 0.8, "min_size": 300},
}
SEGMENTATIONS: tuple[dict[str, Any] | None, ...] = tuple(NAMED_SEGMENTATIONS.values())


@dataclass(frozen=True)
class SearchSpace:
    num_samples: tuple[int, ...] = (50, 100, 150, 200, 300, 400)
    segmentations: tuple[dict[str, Any] | None, ...] = SEGMENTATIONS
    hide_colors: tuple[Any, ...] = (None, 0)
    top_labels: tuple[int, ...] = (1, 5)
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0)  # Ridge; 1.0 is lime's default
    num_features: tuple[int, ...] = (100000, 10)
    mask_k: tuple[int, ...] = (DEFAULT_MASK_K,)
    batch_size: int = 100  # per classifier call; changes speed, not results

    def validate(self) -> None:
        for name in (
            "num_samples",
            "segmentations",
            "hide_colors",
            "top_labels",
            "alphas",
            "num_features",
            "mask_k",
        ):
            if not getattr(self, name):
                raise ValueError(f"the search space needs at least one value of {name}")
        if min(self.num_samples) < 2 or self.batch_size < 1 or min(self.mask_k) < 1:
            raise ValueError("num_samples >= 2, batch_size >= 1 and mask_k >= 1 are required")


@dataclass(frozen=True)
class TuneSettings:
    model: str = "resnet50"
    budget_minutes: float = 30.0
    repeats: int = 1
    iou_ratio: float = 0.9
    time_ratio: float = 0.3
    seed: int = 0  # orders the random part of the search and seeds random_seed
    space: SearchSpace = field(default_factory=SearchSpace)
    reference: ReferenceSettings = field(default_factory=ReferenceSettings)

    def validate(self) -> None:
        if self.budget_minutes <= 0 or self.repeats < 1:
            raise ValueError("budget_minutes > 0 and repeats >= 1 are required")
        self.space.validate()
        self.reference.validate()


def candidates(space: SearchSpace, seed: int) -> Iterator[dict[str, Any]]:
    """Readable-form candidates: first lime's defaults made cheaper (fewer samples, larger
    batches, one label), cheapest first, then the rest of the space in a seeded random order."""

    def make(n: int, seg: Any, hide: Any, top: int, alpha: float, nf: int) -> dict[str, Any]:
        return {
            "num_samples": n,
            "batch_size": min(space.batch_size, n),
            "segmentation_fn": seg,
            "hide_color": hide,
            "top_labels": top,
            "model_regressor": {"class": "Ridge", "alpha": alpha},
            "num_features": nf,
            "random_seed": seed,
        }

    core_top = 1 if 1 in space.top_labels else space.top_labels[0]
    core_alpha = 1.0 if 1.0 in space.alphas else space.alphas[0]
    core = [
        (
            n,
            space.segmentations[0],
            space.hide_colors[0],
            core_top,
            core_alpha,
            space.num_features[0],
        )
        for n in sorted(space.num_samples)
    ]
    rest = [
        c
        for c in itertools.product(
            space.num_samples,
            space.segmentations,
            space.hide_colors,
            space.top_labels,
            space.alphas,
            space.num_features,
        )
        if c not in core
    ]
    random.Random(seed).shuffle(rest)
    for combo in core + rest:
        yield make(*combo)


def describe(readable: dict[str, Any]) -> dict[str, Any]:
    """Flat columns for the trials table."""
    seg = readable.get("segmentation_fn")
    if isinstance(seg, dict):
        seg_text = (
            seg["algo_type"]
            + "("
            + ", ".join(f"{k}={v}" for k, v in seg.items() if k != "algo_type")
            + ")"
        )
    else:
        seg_text = "quickshift(default)"
    hide = readable.get("hide_color")
    reg = readable.get("model_regressor")
    return {
        "num_samples": readable.get("num_samples"),
        "segmentation": seg_text,
        "hide_color": "mean" if hide is None else hide,
        "top_labels": readable.get("top_labels"),
        "alpha": reg.get("alpha", 1.0) if isinstance(reg, dict) else 1.0,
        "num_features": readable.get("num_features"),
        "batch_size": readable.get("batch_size"),
    }


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


@dataclass
class TuneOutcome:
    folder: Path
    summary: pd.DataFrame
    failures: list[Failure]
    skipped: bool = False


def _run_trial(
    sample: Sample,
    classifier: ModelClassifier,
    reference: Reference,
    readable: dict[str, Any],
    settings: TuneSettings,
    deadline: float,
) -> list[dict[str, Any]]:
    params = complete(from_readable(readable, "candidate")[0])
    runs = []
    for r in range(settings.repeats):
        remaining = deadline - time.perf_counter()
        runs.append(
            evaluate(
                sample.crop,
                classifier,
                params,
                reference.label,
                seed=1 + r,
                cutoff=max(remaining, 1.0),
            )
        )
    ok = all(run.status == "ok" for run in runs)
    seconds = sum(run.seconds for run in runs) / len(runs)
    rows = []
    for k in settings.space.mask_k:
        ious = [run.iou(reference, k) for run in runs]
        rows.append(
            {
                "key": sample.key,
                "iou": sum(ious) / len(ious),
                "iou_min": min(ious),
                "seconds": seconds,
                "status": "ok" if ok else next(r.status for r in runs if r.status != "ok"),
                "mask_k": k,
                **describe(readable),
                "params": json.dumps(readable),
            }
        )
    return rows


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


def tune(
    settings: TuneSettings,
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
) -> TuneOutcome:
    model = model or load_model(settings.model, device)
    samples, failures = load_samples(sources, model.geometry, max_pixels=max_pixels)
    stage = runfolder.Stage(
        run_dir,
        "lime_tune",
        {
            "settings": asdict(settings),
            "model": model.name,
            "geometry": model.geometry.to_dict(),
            "images": source_fingerprints(
                [ImageSource(s.key, s.path, s.class_id) for s in samples]
            ),
            "versions": _versions(),
        },
    )
    if stage.complete and not force:
        return TuneOutcome(stage.final, pd.read_csv(stage.final / "summary.csv"), failures, True)

    classifier = ModelClassifier.for_model(model)
    references = {
        s.key: consensus(s.key, s.crop, model.name, classifier, settings.reference)
        for s in tqdm(samples, desc="references (cached after the first run)", unit="image")
    }
    deadline = time.perf_counter() + 60.0 * settings.budget_minutes
    todo = [s for s in samples if not stage.has_item(s.key)]
    for i, sample in enumerate(tqdm(todo, desc=f"tuning ({model.name})", unit="image")):
        share = (deadline - time.perf_counter()) / (len(todo) - i)
        with stage.item(sample.key) as folder:
            trials = _tune_image(
                sample,
                classifier,
                references[sample.key],
                settings,
                time.perf_counter() + max(share, 0.0),
                deadline,
            )
            runfolder.write_csv(folder / "trials.csv", trials)

    with stage.finishing() as folder:
        keys = [s.key for s in samples]
        trials = pd.concat(
            [pd.read_csv(folder / k / "trials.csv") for k in keys], ignore_index=True
        )
        choice = choose_jointly(trials, settings)
        chosen = [_chosen_record(trials[trials["key"] == k], *choice[k]) for k in keys]
        fronts = pd.concat(
            [pareto_front(g[g["status"] == "ok"]) for _, g in trials.groupby("key", sort=False)],
            ignore_index=True,
        )
        summary = pd.DataFrame([{k: v for k, v in c.items() if k != "params"} for c in chosen])
        runfolder.write_csv(folder / "trials.csv", trials)
        runfolder.write_csv(folder / "pareto.csv", fronts)
        runfolder.write_csv(folder / "summary.csv", summary)
        runfolder.write_json(folder / "params.json", _param_file(chosen))
        _plot(trials, fronts, chosen, folder / "pareto.png", model.name)
    return TuneOutcome(stage.final, summary, failures)


def _tune_image(
    sample: Sample,
    classifier: ModelClassifier,
    reference: Reference,
    settings: TuneSettings,
    image_deadline: float,
    deadline: float,
) -> pd.DataFrame:
    defaults = to_readable(complete({}))
    rows = [
        r | {"kind": "baseline"}
        for r in _run_trial(sample, classifier, reference, defaults, settings, deadline)
    ]
    per_sample = rows[0]["seconds"] / max(defaults["num_samples"], 1)
    bar = tqdm(desc=f"  {sample.key}", unit="trial", leave=False)
    for readable in candidates(settings.space, settings.seed):
        remaining = image_deadline - time.perf_counter()
        cheapest = per_sample * min(settings.space.num_samples) * settings.repeats
        if remaining < cheapest:
            break
        if per_sample * readable["num_samples"] * settings.repeats > remaining:
            continue  # too slow for what is left; a cheaper candidate may still fit
        rows.extend(
            r | {"kind": "search"}
            for r in _run_trial(sample, classifier, reference, readable, settings, deadline)
        )
        bar.update()
    bar.close()
    trials = pd.DataFrame(rows)
    trials.insert(1, "trial", range(len(trials)))
    return trials


def _chosen_record(trials: pd.DataFrame, chosen: pd.Series, reason: str) -> dict[str, Any]:
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


def _param_file(chosen: Sequence[dict[str, Any]]) -> dict[str, Any]:
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


def _plot(
    trials: pd.DataFrame,
    fronts: pd.DataFrame,
    chosen: Sequence[dict[str, Any]],
    path: Path,
    model_name: str,
) -> None:
    keys = list(dict.fromkeys(trials["key"]))
    cols = min(5, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.3 * cols, 3.0 * rows), squeeze=False, layout="constrained"
    )
    by_key = {c["key"]: c for c in chosen}
    for ax, key in zip(axes.flat, keys, strict=False):
        t = trials[trials["key"] == key]
        f = fronts[fronts["key"] == key]
        ax.scatter(t["seconds"], t["iou"], s=10, color="0.7", label="trials")
        ax.plot(f["seconds"], f["iou"], "-o", ms=3, color="tab:red", label="Pareto front")
        c = by_key[key]
        ax.scatter(
            [c["baseline_seconds"]],
            [c["baseline_iou"]],
            marker="*",
            s=90,
            color="black",
            label="lime defaults",
            zorder=3,
        )
        ax.scatter(
            [c["chosen_seconds"]],
            [c["chosen_iou"]],
            marker="o",
            s=60,
            facecolors="none",
            edgecolors="tab:green",
            linewidths=2,
            label="chosen",
            zorder=3,
        )
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("seconds")
        ax.set_ylabel("IoU vs reference")
        ax.set_ylim(-0.02, 1.02)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"LIME parameter search: time vs IoU ({model_name})")
    runfolder.save_figure(fig, path)
    close(fig)


def summary_lines(outcome: TuneOutcome) -> list[str]:
    s = outcome.summary
    lines = [f"{'image':28s} {'IoU def':>8s} {'IoU new':>8s} {'s def':>7s} {'s new':>7s} trials"]
    for row in s.itertuples():
        lines.append(
            f"{row.key:28.28s} {row.baseline_iou:8.3f} {row.chosen_iou:8.3f} "
            f"{row.baseline_seconds:7.2f} {row.chosen_seconds:7.2f} {row.trials:6d}"
        )
    lines += [f"choice: {reason}" for reason in dict.fromkeys(s.get("reason", []))]
    if len(s):
        iou_ratio = (
            s["chosen_iou"].mean() / s["baseline_iou"].mean()
            if s["baseline_iou"].mean()
            else float("nan")
        )
        time_ratio = s["chosen_seconds"].mean() / s["baseline_seconds"].mean()
        lines.append(
            f"mean IoU {s['baseline_iou'].mean():.3f} -> {s['chosen_iou'].mean():.3f} "
            f"(x{iou_ratio:.2f}); mean time {s['baseline_seconds'].mean():.2f} s -> "
            f"{s['chosen_seconds'].mean():.2f} s (x{time_ratio:.2f})"
        )
    return lines
