"""The LIME stage: one explanation per image, under ``<run>/lime/``.

Layout (one folder per image key)::

    lime/<key>/segments.npy    (224, 224) int32 superpixel ids of the segmentation used
    lime/<key>/weights.json    label, label_name, weights [[segment, weight], ...] of every
                               superpixel by |weight| descending, intercept, score, local_pred
    lime/<key>/mask.npy        (224, 224) bool: get_image_and_mask(label, positive_only=True,
                               num_features=K, hide_rest=False)'s mask > 0
    lime/<key>/item.json       key, label, label_name, seconds (explain_instance wall time),
                               num_features_mask, params (readable form), and more
    lime/<key>/*.png           boundaries, positive, evidence, weights, panel
    lime/timings.csv           key, seconds
    lime/explanations.csv      one row per image: class, probability, seconds, superpixels, R²
    lime/...                   what packages add as the stage finishes (the assignment: the
                               parameter pickle params.pkl and its JSON twin)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from explainlab import runfolder
from explainlab.errors import ExplainlabError
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource, Sample
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.explain import explain
from explainlab.lime.figures import save_figures
from explainlab.lime.params import ParamFile, load_param_file, to_readable
from explainlab.lime.settings import LimeSettings, outputs
from explainlab.models import LoadedModel, load_model
from explainlab.settings import DEFAULT_MAX_PIXELS
from explainlab.stages import get_stage, resolve_path
from explainlab.versions import LIME_PACKAGES


@dataclass
class LimeOutcome:
    folder: Path
    table: pd.DataFrame
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False


def run_lime(
    settings: LimeSettings,
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> LimeOutcome:
    """One LIME explanation per image under ``<run_dir>/lime/`` (and the packages' outputs)."""
    param_file = load_param_file(settings.params)
    model = model or load_model(settings.model, device)
    # the parameter file by its name (for the reports) and its content (per image), so a
    # copied run folder, with its tuned file elsewhere, is still up to date
    recorded = dataclasses.replace(
        settings, params=Path(settings.params).name if settings.params else ""
    )
    opened = open_image_stage(
        get_stage("lime").folder,
        recorded,
        sources,
        run_dir,
        model=model,
        max_pixels=max_pixels,
        force=force,
        packages=LIME_PACKAGES,
        extra={"params": _resolved(param_file, sources, settings.seed)},
        on_start=on_start,
    )
    stage, failures = opened.stage, opened.failures
    if opened.up_to_date:
        return _outcome(stage.final, failures, skipped=True)

    classifier = ModelClassifier.for_model(model)
    done = []
    for sample in tqdm(
        opened.samples, desc=f"LIME ({model.name}, {settings.explainer})", unit="image"
    ):
        if not stage.has_item(sample.key):
            try:
                with stage.item(sample.key) as folder:
                    _explain_image(settings, param_file, model, classifier, sample, folder)
            except (ExplainlabError, ValueError, TypeError, RuntimeError) as exc:
                # Bad parameters for one image must not stop the others.
                failures.append(Failure(sample.key, sample.path, f"LIME failed: {exc}"))
                continue
        done.append(sample.key)

    with stage.finishing() as folder:
        items = [json.loads((folder / k / "item.json").read_text()) for k in done]
        runfolder.write_csv(folder / "timings.csv", timings_frame(items))
        runfolder.write_csv(folder / "explanations.csv", explanations_frame(items))
        for writer, _ in outputs():  # what packages add (the assignment: the parameter pickle)
            resolve_path(writer)(param_file, folder, settings.seed)
    return _outcome(stage.final, failures)


def _resolved(param_file: ParamFile, sources: Sequence[ImageSource], seed: int) -> dict:
    """Each image's parameters in readable form, and its mask K: what the file decides."""
    resolved = {s.key: param_file.params_for(s.key, seed=seed) for s in sources}
    return {k: [to_readable(p), mask_k] for k, (p, mask_k) in resolved.items()}


def _explain_image(
    settings: LimeSettings,
    param_file: ParamFile,
    model: LoadedModel,
    classifier: ModelClassifier,
    sample: Sample,
    folder: Path,
) -> None:
    """One image's explanation: segments, weights, mask, item.json and figures."""
    params, file_k = param_file.params_for(sample.key, seed=settings.seed)
    k = file_k or settings.mask_num_features
    result = explain(
        sample.crop,
        classifier,
        params,
        seed=settings.seed,
        explainer=settings.explainer,
        label=settings.target_class,
    )
    name = model.class_names[result.label]
    mask = result.mask(k)
    runfolder.save_npy(folder / "segments.npy", result.segments)
    runfolder.save_npy(folder / "mask.npy", mask)
    runfolder.write_json(
        folder / "weights.json",
        {
            "label": result.label,
            "label_name": name,
            "weights": [[s, w] for s, w in result.weights],
            "intercept": result.intercept,
            "score": result.score,
            "local_pred": result.local_pred,
        },
    )
    runfolder.write_json(
        folder / "item.json",
        {
            "key": sample.key,
            "label": result.label,
            "label_name": name,
            "seconds": result.seconds,
            "num_features_mask": k,
            "params": to_readable(result.params),
            "path": str(sample.path),
            "true_id": sample.class_id,
            "probability": result.probability,
            "classifier_seconds": result.classifier_seconds,
            "num_segments": len(np.unique(result.segments)),
            "explainer": settings.explainer,
            "seed": settings.seed,
            "model": model.name,
        },
    )
    verdict = ""
    if sample.class_id is not None:
        verdict = " ✓" if result.label == sample.class_id else " ✗"
    save_figures(
        folder,
        sample.crop,
        result.segments,
        result.weights,
        mask,
        num_features=k,
        title=f"{sample.key}: LIME for {name} (p={result.probability:.2f}){verdict}  "
        f"[{model.name}, {result.seconds:.1f} s]",
    )


def timings_frame(items: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"key": it["key"], "seconds": round(it["seconds"], 4)} for it in items],
        columns=["key", "seconds"],
    )


def explanations_frame(items: Sequence[dict]) -> pd.DataFrame:
    columns = [
        "key",
        "label",
        "label_name",
        "true_id",
        "probability",
        "seconds",
        "classifier_seconds",
        "num_segments",
        "num_features_mask",
        "num_samples",
    ]
    rows = [
        {c: it.get(c) for c in columns if c != "num_samples"}
        | {"num_samples": it["params"]["num_samples"]}
        for it in items
    ]
    return pd.DataFrame(rows, columns=columns)


def _outcome(folder: Path, failures: list[Failure], skipped: bool = False) -> LimeOutcome:
    return LimeOutcome(folder, pd.read_csv(folder / "explanations.csv"), failures, skipped)


def summary_lines(outcome: LimeOutcome) -> list[str]:
    lines = [f"{'image':28s} {'explained class':28s} {'p':>6s} {'segs':>5s} {'seconds':>8s}"]
    for row in outcome.table.itertuples():
        lines.append(
            f"{row.key:28.28s} {row.label_name:28.28s} {row.probability:6.3f} "
            f"{row.num_segments:5d} {row.seconds:8.2f}"
        )
    return lines


def output_lines(folder: Path) -> list[str]:
    """The summary lines of the files packages add to ``folder``."""
    return [line.format(folder=folder) for _, line in outputs()]
