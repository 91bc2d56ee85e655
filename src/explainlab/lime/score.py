"""``explainlab lime score``: emulate the grader on a parameter file or pickle.

For each image: plain lime's ``explain_instance`` with that image's parameters exactly as
given (as the grader runs them), timed, cut off after ``cutoff`` seconds; the mask of the
K superpixels with the largest positive weight for the reference's class; IoU with the
reference mask. A failed or cut-off image scores IoU 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lime.lime_image import LimeImageExplainer
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.errors import ConfigError, InputError
from explainlab.images import DEFAULT_MAX_PIXELS, Failure, ImageSource, Sample, load_samples
from explainlab.lime import safepickle
from explainlab.lime.classifier import CutoffExceeded, ModelClassifier
from explainlab.lime.explain import make_explainer
from explainlab.lime.params import ParamFile, errors, load_param_file
from explainlab.lime.reference import Reference, consensus, mask_reference
from explainlab.lime.settings import DEFAULT_CUTOFF, DEFAULT_MASK_K, ReferenceSettings
from explainlab.lime.validate import check_structure
from explainlab.masks import iou, top_positive_mask
from explainlab.models import LoadedModel, load_model


@dataclass
class Evaluation:
    """One run of one parameter set on one image."""

    status: str  # "ok", "failed" or "cutoff"
    seconds: float
    label: int
    error: str = ""
    segments: np.ndarray | None = None
    weights: dict[int, float] = field(default_factory=dict)

    def mask(self, k: int) -> np.ndarray | None:
        if self.segments is None:
            return None
        return top_positive_mask(self.segments, self.weights, k)

    def iou(self, reference: Reference, k: int) -> float:
        mask = self.mask(k) if self.status == "ok" else None
        return 0.0 if mask is None else iou(mask, reference.mask(DEFAULT_MASK_K))


def evaluate(
    crop: np.ndarray,
    classifier: ModelClassifier,
    params: Mapping[str, Any],
    label: int,
    *,
    seed: int,
    cutoff: float | None = None,
    explainer: str = "lime",
) -> Evaluation:
    """Run ``explain_instance(crop, classifier, **params)`` as the grader would, timed:
    with lime's own LimeImageExplainer unless ``explainer="fast"``."""
    lime_explainer = (
        LimeImageExplainer(random_state=seed)
        if explainer == "lime"
        else make_explainer(explainer, seed)
    )
    start = time.perf_counter()
    classifier.reset(None if cutoff is None else start + cutoff)
    try:
        explanation = lime_explainer.explain_instance(crop, classifier, **dict(params))
    except CutoffExceeded:
        return Evaluation("cutoff", time.perf_counter() - start, label, f"over {cutoff:g} s")
    except Exception as exc:  # whatever lime raises with these parameters is the outcome
        return Evaluation(
            "failed", time.perf_counter() - start, label, f"{type(exc).__name__}: {exc}"
        )
    finally:
        classifier.reset(None)
    seconds = time.perf_counter() - start
    if cutoff is not None and seconds > cutoff:
        return Evaluation("cutoff", seconds, label, f"over {cutoff:g} s")
    if label not in explanation.local_exp:
        return Evaluation(
            "failed", seconds, label, f"class {label} not explained (top_labels/labels exclude it)"
        )
    weights = {int(f): float(w) for f, w in explanation.local_exp[label]}
    return Evaluation("ok", seconds, label, "", np.asarray(explanation.segments), weights)


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


@dataclass
class ScoreOutcome:
    table: pd.DataFrame
    csv: Path
    failures: list[Failure]

    @property
    def mean_iou(self) -> float:
        return float(self.table["iou"].mean()) if len(self.table) else float("nan")

    @property
    def mean_seconds(self) -> float:
        return float(self.table["seconds"].mean()) if len(self.table) else float("nan")


def get_reference(
    sample: Sample,
    model: LoadedModel,
    classifier: ModelClassifier,
    reference: str | Path,
    settings: ReferenceSettings,
) -> Reference:
    if str(reference) == "consensus":
        return consensus(sample.key, sample.crop, model.name, classifier, settings)
    return mask_reference(sample.key, Path(reference))


def score(
    candidates: ParamFile,
    sources: Sequence[ImageSource],
    csv: Path,
    *,
    model: LoadedModel | str = "resnet50",
    device: str = "auto",
    reference: str | Path = "consensus",
    reference_settings: ReferenceSettings | None = None,
    cutoff: float | None = DEFAULT_CUTOFF,
    seed: int = 0,
    mask_k: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ScoreOutcome:
    """Score each image's parameters from ``candidates`` (see the module docstring)."""
    model = load_model(model, device) if isinstance(model, str) else model
    samples, failures = load_samples(sources, model.geometry, max_pixels=max_pixels)
    classifier = ModelClassifier.for_model(model)
    rows = []
    for sample in tqdm(samples, desc=f"scoring ({model.name})", unit="image"):
        if candidates.images and sample.key not in candidates.images and not candidates.defaults:
            failures.append(Failure(sample.key, sample.path, "no parameters for this image"))
            continue
        try:
            params, file_k = candidates.params_for(sample.key)
            ref = get_reference(
                sample, model, classifier, reference, reference_settings or ReferenceSettings()
            )
        except (ConfigError, InputError) as exc:
            failures.append(Failure(sample.key, sample.path, str(exc)))
            continue
        label = ref.label if ref.label is not None else classifier.top_class(sample.crop)[0]
        k = mask_k or file_k or DEFAULT_MASK_K
        result = evaluate(sample.crop, classifier, params, label, seed=seed, cutoff=cutoff)
        rows.append(
            {
                "key": sample.key,
                "label": label,
                "label_name": model.class_names[label],
                "iou": round(result.iou(ref, k), 6),
                "seconds": round(result.seconds, 4),
                "status": result.status,
                "mask_k": k,
                "num_samples": params["num_samples"],
                "reference": "consensus" if str(reference) == "consensus" else str(reference),
                "error": result.error,
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "key",
            "label",
            "label_name",
            "iou",
            "seconds",
            "status",
            "mask_k",
            "num_samples",
            "reference",
            "error",
        ],
    )
    runfolder.write_csv(csv, table)
    return ScoreOutcome(table, csv, failures)


def summary_lines(outcome: ScoreOutcome) -> list[str]:
    lines = [f"{'image':28s} {'class':24s} {'IoU':>6s} {'seconds':>8s}  status"]
    for row in outcome.table.itertuples():
        status = row.status if row.status == "ok" else f"{row.status}: {row.error}"
        lines.append(
            f"{row.key:28.28s} {row.label_name:24.24s} {row.iou:6.3f} {row.seconds:8.2f}  {status}"
        )
    lines.append(
        f"{'mean':53s} {outcome.mean_iou:6.3f} {outcome.mean_seconds:8.2f}  "
        f"({len(outcome.table)} image(s))"
    )
    return lines
