"""The tuning of a run's images under ``<run>/lime_tune/``: trials.csv (every run),
pareto.csv (each image's Pareto front of time vs IoU), pareto.png, summary.csv (baseline
vs chosen per image), and params.json: the chosen parameter file, ready for
``explainlab lime export --params``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.reference import consensus
from explainlab.lime.settings import TuneSettings
from explainlab.lime.tune.choice import choose_jointly, chosen_record, param_file, pareto_front
from explainlab.lime.tune.figures import save_pareto_plot
from explainlab.lime.tune.search import tune_image
from explainlab.models import LoadedModel
from explainlab.settings import DEFAULT_MAX_PIXELS
from explainlab.stages import get_stage
from explainlab.versions import LIME_PACKAGES


@dataclass
class TuneOutcome:
    folder: Path
    summary: pd.DataFrame
    failures: list[Failure]
    skipped: bool = False


def tune(
    settings: TuneSettings,
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> TuneOutcome:
    """Search each image's parameters and choose jointly (see the package docstring)."""
    opened = open_image_stage(
        get_stage("tune").folder,
        settings,
        sources,
        run_dir,
        model=model,
        device=device,
        max_pixels=max_pixels,
        force=force,
        packages=LIME_PACKAGES,
        on_start=on_start,
    )
    stage, samples, model = opened.stage, opened.samples, opened.model
    if opened.up_to_date:
        summary = pd.read_csv(stage.final / "summary.csv")
        return TuneOutcome(stage.final, summary, opened.failures, True)

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
            trials = tune_image(
                sample,
                classifier,
                references[sample.key],
                settings,
                time.perf_counter() + max(share, 0.0),
                deadline,
            )
            runfolder.write_csv(folder / "trials.csv", trials)

    with stage.finishing() as folder:
        summary = _choose_and_write([s.key for s in samples], settings, folder, model.name)
    return TuneOutcome(stage.final, summary, opened.failures)


def _choose_and_write(
    keys: Sequence[str], settings: TuneSettings, folder: Path, model_name: str
) -> pd.DataFrame:
    """The joint choice over every image's trials, and the stage-wide files."""
    trials = pd.concat([pd.read_csv(folder / k / "trials.csv") for k in keys], ignore_index=True)
    choice = choose_jointly(trials, settings)
    chosen = [chosen_record(trials[trials["key"] == k], *choice[k]) for k in keys]
    fronts = pd.concat(
        [pareto_front(g[g["status"] == "ok"]) for _, g in trials.groupby("key", sort=False)],
        ignore_index=True,
    )
    summary = pd.DataFrame([{k: v for k, v in c.items() if k != "params"} for c in chosen])
    runfolder.write_csv(folder / "trials.csv", trials)
    runfolder.write_csv(folder / "pareto.csv", fronts)
    runfolder.write_csv(folder / "summary.csv", summary)
    runfolder.write_json(folder / "params.json", param_file(chosen))
    save_pareto_plot(trials, fronts, chosen, folder / "pareto.png", model_name)
    return summary


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
