"""The tuning of a run's images under ``<run>/lime_tune/``: trials.csv (every candidate,
per mask K), pareto.csv (each image's Pareto front of cost vs IoU), pareto.png,
summary.csv (baseline vs chosen per image, and why), choice.json (the verdict),
hypothesis.json (the reference hypothesis used, and how well it predicted the public
scoreboard), cost_model.json (the rates that priced the work), and params.json: the
chosen parameter file, ready for ``explainlab lime export --params``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.assignment.calibrate import calibrate, hypothesis_sentence, tuning_hypothesis
from explainlab.assignment.cost import CostModel
from explainlab.assignment.costmeasure import cost_model_for_sources
from explainlab.assignment.hypotheses import get_hypothesis
from explainlab.assignment.reference import Reference
from explainlab.assignment.score import get_reference
from explainlab.assignment.settings import AUTO, TuneSettings
from explainlab.assignment.tune.choice import (
    Choice,
    choose,
    chosen_record,
    param_file,
    pareto_front,
)
from explainlab.assignment.tune.figures import save_pareto_plot
from explainlab.assignment.tune.search import search_image
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource, Sample
from explainlab.models import LoadedModel, load_model
from explainlab.settings import DEFAULT_MAX_PIXELS
from explainlab.stages import get_stage
from explainlab.versions import LIME_PACKAGES


@dataclass(kw_only=True)
class TuneOutcome:
    folder: Path
    summary: pd.DataFrame
    failures: list[Failure]
    skipped: bool = False
    choice: dict[str, Any] = field(default_factory=dict)  # choice.json
    hypothesis: dict[str, Any] = field(default_factory=dict)  # hypothesis.json


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
    """Search each image's parameters and choose safely (see the package docstring)."""
    model = model or load_model(settings.model, device)
    hypothesis = _hypothesis(settings, sources, run_dir, model, max_pixels)
    prices = _cost_model(settings, sources, model, max_pixels)
    opened = open_image_stage(
        get_stage("tune").folder,
        settings,
        sources,
        run_dir,
        model=model,
        max_pixels=max_pixels,
        force=force,
        packages=LIME_PACKAGES,
        extra={"hypothesis": hypothesis["name"], "cost_model": prices.digest()},
        on_start=on_start,
    )
    stage, samples = opened.stage, opened.samples
    if opened.up_to_date:
        return _read_outcome(stage.final, opened.failures)
    assumed = get_hypothesis(hypothesis["name"])
    classifier = assumed.classifier(model)
    images = {s.key: assumed.image(s, max_pixels) for s in samples}
    references = {
        s.key: _reference(s, images[s.key], model, classifier, settings, assumed)
        for s in tqdm(samples, desc="references (cached after the first run)", unit="image")
    }
    _search_all(samples, stage, images, classifier, references, settings, prices, model.name)
    with stage.finishing() as folder:
        keys = [s.key for s in samples]
        summary, choice = _choose_and_write(keys, settings, folder, model.name)
        runfolder.write_json(folder / "hypothesis.json", hypothesis)
        prices.save(folder / "cost_model.json")
    return TuneOutcome(
        folder=stage.final,
        summary=summary,
        failures=opened.failures,
        skipped=False,
        choice=choice,
        hypothesis=hypothesis,
    )


def _search_all(samples, stage, images, classifier, references, settings, prices, name) -> None:
    """Each unfinished image searched within its share of what is left of the counted
    budget (finished images' spending is read back, so a resumed run shares it alike)."""
    budget = 60.0 * settings.budget_minutes
    spent = sum(_spent(stage.folder / s.key) for s in samples if stage.has_item(s.key))
    todo = [s for s in samples if not stage.has_item(s.key)]
    for i, sample in enumerate(tqdm(todo, desc=f"tuning ({name})", unit="image")):
        share = max(budget - spent, 0.0) / (len(todo) - i)
        with stage.item(sample.key) as folder:
            found = search_image(
                sample.key,
                images[sample.key],
                classifier,
                references[sample.key],
                settings,
                prices,
                share,
            )
            runfolder.write_csv(folder / "trials.csv", found.trials)
            runfolder.write_json(
                folder / "search.json",
                {"share": share, "spent": found.spent, "groups": found.searched},
            )
        spent += found.spent


def _hypothesis(
    settings: TuneSettings,
    sources: Sequence[ImageSource],
    run_dir: Path,
    model: LoadedModel,
    max_pixels: int,
) -> dict[str, Any]:
    """The reference hypothesis to tune under; with ``calibrate`` and ``auto``, the
    calibration runs first when this model has none."""
    chosen = tuning_hypothesis(settings.hypothesis, model.name)
    if settings.hypothesis == AUTO and chosen["calibration"] is None and settings.calibrate:
        calibrate(
            settings.calibration,
            sources,
            run_dir,
            model=model,
            reference=settings.reference,
            cost_model=settings.cost_model,
            max_pixels=max_pixels,
        )
        chosen = tuning_hypothesis(settings.hypothesis, model.name)
    return chosen | {"model": model.name, "sentence": hypothesis_sentence(chosen)}


def _cost_model(
    settings: TuneSettings, sources: Sequence[ImageSource], model: LoadedModel, max_pixels: int
) -> CostModel:
    segmentations = [None, *settings.space.segmentations]
    return cost_model_for_sources(
        model, sources, segmentations, path=settings.cost_model, max_pixels=max_pixels
    )


def _reference(sample: Sample, image, model, classifier, settings, assumed) -> Reference:
    return get_reference(sample, image, model, classifier, "consensus", settings.reference, assumed)


def _spent(item: Path) -> float:
    return float(json.loads((item / "search.json").read_text())["spent"])


def _choose_and_write(
    keys: Sequence[str], settings: TuneSettings, folder: Path, model_name: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The safe choice over every image's trials, and the stage-wide files."""
    trials = pd.concat([pd.read_csv(folder / k / "trials.csv") for k in keys], ignore_index=True)
    choice = choose(trials, settings)
    chosen = [
        chosen_record(
            trials[trials["key"] == k], choice.picked[k], choice.baselines[k], choice.reasons[k]
        )
        for k in keys
    ]
    ok = trials[trials["status"] == "ok"]
    fronts = pd.concat(
        [pareto_front(g) for _, g in ok.groupby("key", sort=False)], ignore_index=True
    )
    summary = pd.DataFrame([{k: v for k, v in c.items() if k != "params"} for c in chosen])
    verdict = _verdict_record(choice) | {"seeds": settings.repeats}
    runfolder.write_csv(folder / "trials.csv", trials)
    runfolder.write_csv(folder / "pareto.csv", fronts)
    runfolder.write_csv(folder / "summary.csv", summary)
    runfolder.write_json(folder / "choice.json", verdict)
    runfolder.write_json(folder / "params.json", param_file(chosen))
    save_pareto_plot(trials, fronts, chosen, folder / "pareto.png", model_name)
    return summary, verdict


def _verdict_record(choice: Choice) -> dict[str, Any]:
    return {
        "verdict": choice.verdict,
        "met": choice.met,
        "iou_met": choice.iou_met,
        "time_met": choice.time_met,
        "iou_kept": choice.iou_kept,
        "cost_kept": choice.cost_kept,
    }


def _read_outcome(folder: Path, failures: list[Failure]) -> TuneOutcome:
    return TuneOutcome(
        folder=folder,
        summary=pd.read_csv(folder / "summary.csv"),
        failures=failures,
        skipped=True,
        choice=json.loads((folder / "choice.json").read_text()),
        hypothesis=json.loads((folder / "hypothesis.json").read_text()),
    )


def summary_lines(outcome: TuneOutcome) -> list[str]:
    """The verdict first (the run's summary shows the first lines), then per image."""
    s = outcome.summary
    lines = [f"choice: {outcome.choice.get('verdict', '')}"]
    if outcome.hypothesis:
        lines.append(outcome.hypothesis["sentence"])
    lines.append(
        f"{'image':28s} {'IoU def':>7s} {'IoU new':>7s} {'cost def':>8s} {'cost new':>8s} "
        f"{'wall def':>8s} {'wall new':>8s} trials"
    )
    for row in s.itertuples():
        lines.append(
            f"{row.key:28.28s} {row.baseline_iou:7.3f} {row.chosen_iou:7.3f} "
            f"{row.baseline_cost:8.2f} {row.chosen_cost:8.2f} {row.baseline_wall:8.2f} "
            f"{row.chosen_wall:8.2f} {row.trials:6d}"
        )
    lines += [f"{row.key}: {row.reason}" for row in s.itertuples()]
    lines.append(
        "cost: counted work (forward passes, segmentation, perturbation, regression) at this "
        "machine's measured rates, in seconds; wall: as measured here"
    )
    return lines
