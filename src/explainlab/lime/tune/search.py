"""The trials of one image: lime's defaults as the baseline, then candidates until the
image's share of the budget is spent; each run as the grader runs it (plain lime, timed)."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from explainlab.images import Sample
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.params import complete, from_readable, to_readable
from explainlab.lime.reference import Reference
from explainlab.lime.score import evaluate
from explainlab.lime.settings import TuneSettings
from explainlab.lime.tune.space import candidates, describe


def run_trial(
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


def tune_image(
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
        for r in run_trial(sample, classifier, reference, defaults, settings, deadline)
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
            for r in run_trial(sample, classifier, reference, readable, settings, deadline)
        )
        bar.update()
    bar.close()
    trials = pd.DataFrame(rows)
    trials.insert(1, "trial", range(len(trials)))
    return trials
