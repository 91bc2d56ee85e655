"""``explainlab lime score``: emulate the grader on a parameter file or pickle.

For each image: plain lime's ``explain_instance`` with that image's parameters exactly as
given (as the grader runs them) on the image of the reference hypothesis
(:mod:`.hypotheses`: the model's crop, or the file at its own size), timed and counted
(:mod:`.cost`); the mask of the K superpixels with the largest positive weight for the
reference's class; IoU with the reference mask. A failed image scores IoU 0; one stopped
by the ``cutoff`` clock is not measured (IoU NaN, left out of the means).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.assignment import safepickle
from explainlab.assignment.cost import CostModel
from explainlab.assignment.costmeasure import ensure_segmentations
from explainlab.assignment.evaluation import NOT_MEASURED, evaluate
from explainlab.assignment.hypotheses import DEFAULT_HYPOTHESIS, Hypothesis, get_hypothesis
from explainlab.assignment.reference import (
    Reference,
    consensus,
    gradcam_reference,
    mask_reference,
)
from explainlab.assignment.settings import DEFAULT_CUTOFF, ReferenceSettings
from explainlab.assignment.validate import check_structure
from explainlab.errors import ConfigError, InputError
from explainlab.images import DEFAULT_MAX_PIXELS, Failure, ImageSource, Sample, load_samples
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.params import ParamFile, errors, load_param_file
from explainlab.lime.settings import DEFAULT_MASK_K
from explainlab.models import LoadedModel, load_model


def load_candidates(path: Path) -> ParamFile:
    """A parameter pickle (checked without trusting it) or a TOML/JSON parameter file."""
    path = Path(path)
    if path.suffix.lower() in (".toml", ".json"):
        return load_param_file(path)
    obj = safepickle.load_untrusted(path)
    found = errors(check_structure(obj, str(path)))
    bad_keys = {p.where for p in found}
    usable = (
        {k: v for k, v in obj.items() if isinstance(v, Mapping) and f"{path}: {k}" not in bad_keys}
        if isinstance(obj, Mapping)
        else {}
    )
    if not usable:
        raise InputError(
            f"{path}: no usable image parameters:\n" + "\n".join(f"  - {p}" for p in found),
            hint="check it with 'explainlab lime validate'",
        )
    return ParamFile.from_objects(usable, str(path))


COLUMNS = (
    "key",
    "label",
    "label_name",
    "iou",
    "cost_seconds",
    "seconds",
    "status",
    "mask_k",
    "num_samples",
    "hypothesis",
    "reference",
    "error",
)


@dataclass
class ScoreOutcome:
    table: pd.DataFrame
    csv: Path
    failures: list[Failure]
    from_tuner: bool = False  # taken from the tune stage's runs, not run again

    @property
    def measured(self) -> pd.DataFrame:
        return self.table[self.table["status"] != NOT_MEASURED]

    @property
    def mean_iou(self) -> float:
        """Over the measured images (a run stopped by the clock has no IoU)."""
        return float(self.measured["iou"].mean()) if len(self.measured) else float("nan")

    @property
    def mean_seconds(self) -> float:
        return float(self.table["seconds"].mean()) if len(self.table) else float("nan")

    @property
    def mean_cost(self) -> float:
        return float(self.table["cost_seconds"].mean()) if len(self.table) else float("nan")


def get_reference(
    sample: Sample,
    image: np.ndarray,
    model: LoadedModel,
    classifier: ModelClassifier,
    reference: str | Path,
    settings: ReferenceSettings,
    hypothesis: Hypothesis,
) -> Reference:
    """The reference of ``sample`` under ``hypothesis``: the consensus on ``image`` (the
    image of the hypothesis) or the model's Grad-CAM, or the user's mask (on the crop only)."""
    if str(reference) != "consensus":
        if hypothesis.full_size or hypothesis.truth != "consensus":
            raise ConfigError(
                f"reference masks replace the consensus on the model's crop; the {hypothesis.name} "
                "hypothesis has a ground truth of its own",
                hint=f"use --hypothesis {DEFAULT_HYPOTHESIS} with a folder of masks",
            )
        return mask_reference(sample.key, Path(reference))
    if hypothesis.truth == "gradcam":
        return gradcam_reference(sample.key, sample.crop, model, classifier)
    variant = "" if hypothesis.name == DEFAULT_HYPOTHESIS else hypothesis.name
    return consensus(sample.key, image, model.name, classifier, settings, variant=variant)


def segmentations_used(candidates: ParamFile, keys: Sequence[str]) -> list:
    """The segmentations (readable form) the parameter file uses for ``keys``: what a
    cost model must have rates for."""
    found = {}
    for key in keys:
        readable = candidates.readable_for(key).get("segmentation_fn")
        found[json.dumps(readable, sort_keys=True)] = readable
    return list(found.values())


def score(
    candidates: ParamFile,
    sources: Sequence[ImageSource],
    csv: Path,
    *,
    model: LoadedModel | str = "resnet50",
    device: str = "auto",
    reference: str | Path = "consensus",
    reference_settings: ReferenceSettings | None = None,
    hypothesis: str = DEFAULT_HYPOTHESIS,
    cost_model: CostModel | None = None,
    cutoff: float | None = DEFAULT_CUTOFF,
    seed: int = 0,
    mask_k: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ScoreOutcome:
    """Score each image's parameters from ``candidates`` (see the module docstring);
    without ``cost_model`` the counted cost is left empty (NaN); the rate of a
    segmentation it lacks is measured first."""
    model = load_model(model, device) if isinstance(model, str) else model
    assumed = get_hypothesis(hypothesis)
    samples, failures = load_samples(sources, model.geometry, max_pixels=max_pixels)
    if cost_model is not None and samples:  # a rate for every segmentation used
        used = segmentations_used(candidates, [s.key for s in samples])
        ensure_segmentations(cost_model, used, samples[0].crop)
    classifier = assumed.classifier(model)
    rows = []
    for sample in tqdm(samples, desc=f"scoring ({model.name}, {assumed.name})", unit="image"):
        if candidates.images and sample.key not in candidates.images and not candidates.defaults:
            failures.append(Failure(sample.key, sample.path, "no parameters for this image"))
            continue
        try:
            params, file_k = candidates.params_for(sample.key)
            image = assumed.image(sample, max_pixels)
            ref = get_reference(
                sample,
                image,
                model,
                classifier,
                reference,
                reference_settings or ReferenceSettings(),
                assumed,
            )
        except (ConfigError, InputError) as exc:
            failures.append(Failure(sample.key, sample.path, str(exc)))
            continue
        label = ref.label if ref.label is not None else classifier.top_class(image)[0]
        k = mask_k or file_k or DEFAULT_MASK_K
        result = evaluate(
            image, classifier, params, label, seed=seed, cutoff=cutoff, cost_model=cost_model
        )
        rows.append(_row(sample.key, model, result, ref, k, params, assumed.name, reference))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    runfolder.write_csv(csv, table)
    return ScoreOutcome(table, csv, failures)


def _row(key, model, result, ref, k, params, hypothesis, reference) -> dict[str, object]:
    return {
        "key": key,
        "label": result.label,
        "label_name": model.class_names[result.label],
        "iou": round(result.iou(ref, k), 6),
        "cost_seconds": round(result.cost_seconds, 4),
        "seconds": round(result.seconds, 4),
        "status": result.status,
        "mask_k": k,
        "num_samples": params["num_samples"],
        "hypothesis": hypothesis,
        "reference": "consensus" if str(reference) == "consensus" else str(reference),
        "error": result.error,
    }


def summary_lines(outcome: ScoreOutcome) -> list[str]:
    lines = [f"{'image':28s} {'class':24s} {'IoU':>6s} {'cost s':>7s} {'wall s':>7s}  status"]
    for row in outcome.table.itertuples():
        status = row.status if row.status == "ok" else f"{row.status}: {row.error}"
        lines.append(
            f"{row.key:28.28s} {row.label_name:24.24s} {row.iou:6.3f} {row.cost_seconds:7.2f} "
            f"{row.seconds:7.2f}  {status}"
        )
    measured = len(outcome.measured)
    lines.append(
        f"{'mean':53s} {outcome.mean_iou:6.3f} {outcome.mean_cost:7.2f} "
        f"{outcome.mean_seconds:7.2f}  ({measured} of {len(outcome.table)} image(s) measured; "
        "cost: counted work at this machine's measured rates)"
    )
    return lines
