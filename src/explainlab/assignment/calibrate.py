"""``explainlab lime calibrate``: the local scoreboard checked against the real one.

Each public submission (:mod:`.submissions`) is scored here under each reference
hypothesis (:mod:`.hypotheses`): plain lime's numbers for its parameters on each image
(computed with shared model outputs, :mod:`.sharing`, which gives the same weights),
the IoU with the consensus reference of that hypothesis, the counted cost and the wall
time (apportioned from the shared group's: its segmentation, its share of the samples,
its own regression). Across submissions, Spearman's rho of the local mean IoU against the grader's, and
of the local cost (and wall time, and mean num_samples) against the grader's time, say
how well each hypothesis predicts the grader (:mod:`.agreement`). The best one is what
``[tune] hypothesis = "auto"`` uses: the latest calibration of each model is kept under
the explainlab cache (``lime-calibration/<model>.json``).

Outputs under ``<out>/lime_calibrate/``: per_image.csv, submissions.csv (one row per
hypothesis and submission), agreement.csv (one row per hypothesis), calibration.json.
With another model than the assignment's ResNet50 it is a check of the stand-in, and
says so.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from explainlab import assets, runfolder
from explainlab.assignment.agreement import agreement_table, best_hypothesis
from explainlab.assignment.cost import CostModel
from explainlab.assignment.costmeasure import cost_model_for_sources
from explainlab.assignment.hypotheses import DEFAULT_HYPOTHESIS, Hypothesis, get_hypothesis
from explainlab.assignment.score import get_reference, segmentations_used
from explainlab.assignment.settings import AUTO, CalibrationSettings, ReferenceSettings
from explainlab.assignment.sharing import evaluate_many
from explainlab.assignment.submissions import Submission, load_submissions
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource, Sample
from explainlab.lime.settings import DEFAULT_MASK_K
from explainlab.models import LoadedModel
from explainlab.settings import DEFAULT_MAX_PIXELS, plain
from explainlab.versions import LIME_PACKAGES

FOLDER = "lime_calibrate"
ASSIGNMENT_MODEL = "resnet50"  # the model the real grader explains


@dataclass(kw_only=True)
class CalibrationOutcome:
    folder: Path
    agreement: pd.DataFrame
    per_submission: pd.DataFrame
    best: str
    record: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False


def latest_path(model_name: str) -> Path:
    return assets.cache_dir().parent / "lime-calibration" / f"{model_name}.json"


def latest_calibration(model_name: str) -> dict[str, Any] | None:
    """The record of the latest calibration of ``model_name`` on this machine, if any."""
    path = latest_path(model_name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _image_rows(
    sample: Sample,
    submissions: Sequence[Submission],
    settings: CalibrationSettings,
    model: LoadedModel,
    reference: ReferenceSettings,
    cost_model: CostModel,
    max_pixels: int,
) -> list[dict[str, Any]]:
    """Every submission scored on one image under each hypothesis; hypotheses that perturb
    the same image (the crop's: crop and gradcam) share lime's runs and differ in truth."""
    by_image: dict[bool, list[Hypothesis]] = {}
    for name in settings.hypotheses:
        hypothesis = get_hypothesis(name)
        by_image.setdefault(hypothesis.full_size, []).append(hypothesis)
    params = [s.params.params_for(sample.key)[0] for s in submissions]
    rows: dict[str, list[dict[str, Any]]] = {}
    for alike in by_image.values():
        classifier = alike[0].classifier(model)
        image = alike[0].image(sample, max_pixels)
        refs = {
            h.name: get_reference(sample, image, model, classifier, "consensus", reference, h)
            for h in alike
        }
        label = int(refs[alike[0].name].label)  # every truth of one image: its top class
        results = evaluate_many(
            image, classifier, params, label, seed=settings.seed, cost_model=cost_model
        )
        for name, ref in refs.items():
            rows[name] = [
                {
                    "hypothesis": name,
                    "submission": submission.name,
                    "key": sample.key,
                    "label": ref.label,
                    "iou": result.iou(ref, DEFAULT_MASK_K),
                    "cost_seconds": result.cost_seconds,
                    "wall_seconds": result.seconds,
                    "num_samples": int(p["num_samples"]),
                    "status": result.status,
                    "error": result.error,
                }
                for submission, p, result in zip(submissions, params, results, strict=True)
            ]
    return [row for name in settings.hypotheses for row in rows[name]]


def per_submission_table(
    per_image: pd.DataFrame, submissions: Sequence[Submission]
) -> pd.DataFrame:
    """One row per hypothesis and submission: local means over the images, the grader's."""
    server = {s.name: s for s in submissions}
    grouped = per_image.groupby(["hypothesis", "submission"], sort=False)
    table = grouped.agg(
        images=("key", "nunique"),
        local_iou=("iou", "mean"),
        local_cost=("cost_seconds", "mean"),
        local_wall=("wall_seconds", "mean"),
        mean_num_samples=("num_samples", "mean"),
    ).reset_index()
    table["server_iou"] = [server[n].server_iou for n in table["submission"]]
    table["server_seconds"] = [server[n].server_seconds for n in table["submission"]]
    return table


def calibrate(
    settings: CalibrationSettings,
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel,
    reference: ReferenceSettings,
    cost_model: str | Path = "",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> CalibrationOutcome:
    """Score the submissions under each hypothesis and rank-correlate (module docstring)."""
    submissions = load_submissions(settings.submissions, settings.only)
    prices = _cost_model(model, sources, submissions, cost_model, max_pixels)
    opened = open_image_stage(
        FOLDER,
        settings,
        sources,
        run_dir,
        model=model,
        max_pixels=max_pixels,
        force=force,
        packages=LIME_PACKAGES,
        extra={
            "reference": plain(reference),
            "submissions": [[s.name, s.params.defaults, s.params.images] for s in submissions],
            "cost_model": prices.digest(),
        },
        on_start=on_start,
    )
    stage, samples = opened.stage, opened.samples
    if opened.up_to_date:
        return _read_outcome(stage.final, opened.failures)
    keys = [s.key for s in samples]
    for sample in tqdm(samples, desc=f"calibrating ({model.name})", unit="image"):
        if stage.has_item(sample.key):
            continue
        with stage.item(sample.key) as folder:
            rows = _image_rows(sample, submissions, settings, model, reference, prices, max_pixels)
            runfolder.write_csv(folder / "per_image.csv", pd.DataFrame(rows))
    with stage.finishing() as folder:
        per_image = pd.concat(
            [pd.read_csv(folder / k / "per_image.csv") for k in keys], ignore_index=True
        )
        per_submission = per_submission_table(per_image, submissions)
        agreement = agreement_table(per_submission)
        record = _record(model, agreement, keys, settings, reference, prices, stage.final)
        runfolder.write_csv(folder / "per_image.csv", per_image)
        runfolder.write_csv(folder / "submissions.csv", per_submission)
        runfolder.write_csv(folder / "agreement.csv", agreement)
        runfolder.write_json(folder / "calibration.json", record)
        prices.save(folder / "cost_model.json")
    runfolder.write_json(latest_path(model.name), record)
    return CalibrationOutcome(
        folder=stage.final,
        agreement=agreement,
        per_submission=per_submission,
        best=record["best"],
        record=record,
        failures=opened.failures,
    )


def _cost_model(
    model: LoadedModel,
    sources: Sequence[ImageSource],
    submissions: Sequence[Submission],
    path: str | Path,
    max_pixels: int,
) -> CostModel:
    """The cost model with rates for every segmentation the submissions use."""
    keys = [s.key for s in sources]
    used = [seg for s in submissions for seg in segmentations_used(s.params, keys)]
    return cost_model_for_sources(model, sources, used, path=path, max_pixels=max_pixels)


def _record(
    model: LoadedModel,
    agreement: pd.DataFrame,
    keys: Sequence[str],
    settings: CalibrationSettings,
    reference: ReferenceSettings,
    cost_model: CostModel,
    folder: Path,
) -> dict[str, Any]:
    return {
        "model": model.name,
        "stand_in": model.name != ASSIGNMENT_MODEL,
        "best": best_hypothesis(agreement),
        "agreement": json.loads(agreement.to_json(orient="records")),
        "images": list(keys),
        "settings": plain(settings),
        "reference": plain(reference),
        "cost_model": cost_model.digest(),
        "folder": str(folder),
        "calibrated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _read_outcome(folder: Path, failures: list[Failure]) -> CalibrationOutcome:
    record = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
    runfolder.write_json(latest_path(record["model"]), record)
    return CalibrationOutcome(
        folder=folder,
        agreement=pd.read_csv(folder / "agreement.csv"),
        per_submission=pd.read_csv(folder / "submissions.csv"),
        best=record["best"],
        record=record,
        failures=failures,
        skipped=True,
    )


def agreement_sentence(record: dict[str, Any], hypothesis: str) -> str:
    """How well ``hypothesis`` predicted the public scoreboard, in one sentence."""
    row = next((r for r in record.get("agreement", []) if r["hypothesis"] == hypothesis), None)
    if row is None:
        return f"the {hypothesis} hypothesis was not checked against the public scoreboard"
    model = record["model"] + (
        " (a stand-in for the grader's ResNet50)" if record["stand_in"] else ""
    )
    return (
        f"on {model}, its local IoU ranks the {row['submissions']} public submissions with "
        f"Spearman rho {_rho(row['rho_iou'])} against the grader's IoU, its counted cost with "
        f"rho {_rho(row['rho_cost'])} against the grader's time (wall time: {_rho(row['rho_wall'])}, "
        f"mean num_samples alone: {_rho(row['rho_samples'])})"
    )


def _rho(value: Any) -> str:
    return "n/a" if value is None or value != value else f"{float(value):.2f}"


def summary_lines(outcome: CalibrationOutcome) -> list[str]:
    record = outcome.record
    lines = [
        f"{'hypothesis':10s} {'subs':>4s} {'rho IoU':>8s} {'rho cost':>9s} {'rho wall':>9s} "
        f"{'rho samples':>11s}"
    ]
    for row in outcome.agreement.itertuples():
        lines.append(
            f"{row.hypothesis:10s} {row.submissions:4d} {_rho(row.rho_iou):>8s} "
            f"{_rho(row.rho_cost):>9s} {_rho(row.rho_wall):>9s} {_rho(row.rho_samples):>11s}"
        )
    lines.append(f"best agreement: {outcome.best} — {agreement_sentence(record, outcome.best)}")
    if record["stand_in"]:
        lines.append(
            f"note: {record['model']} stands in for the grader's {ASSIGNMENT_MODEL}; with the "
            "assignment's model this is the real check"
        )
    return lines


def tuning_hypothesis(name: str, model_name: str) -> dict[str, Any]:
    """The hypothesis the tuner uses (``name``, or for ``auto`` the best of the latest
    calibration of the model, ``crop`` when there is none), why, and the calibration."""
    latest = latest_calibration(model_name)
    if name != AUTO:
        return {"name": name, "why": "named in the settings", "calibration": latest}
    if latest is None:
        return {
            "name": DEFAULT_HYPOTHESIS,
            "why": f"no calibration of {model_name} yet, so today's consensus on the crop; "
            "'explainlab lime calibrate' checks each hypothesis against the public scoreboard",
            "calibration": None,
        }
    return {
        "name": latest["best"],
        "why": "the best agreement with the public scoreboard",
        "calibration": latest,
    }


def hypothesis_sentence(chosen: dict[str, Any]) -> str:
    """Which reference hypothesis, why, and how well it predicted the public scoreboard."""
    text = f"reference hypothesis {chosen['name']} ({chosen['why']})"
    if chosen.get("calibration"):
        text += "; " + agreement_sentence(chosen["calibration"], chosen["name"])
    return text
