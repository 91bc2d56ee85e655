"""One parameter set run on one image as the grader runs it, and what came of it: status,
the label's superpixel weights, the wall time, and the counted cost (:mod:`.cost`).

A run that fails (lime raises, or the label is not explained) scores IoU 0, as at the
grader. A run stopped by our own clock is ``not measured``: its IoU is unknown (NaN), never 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lime.lime_image import LimeImageExplainer

from explainlab.assignment.cost import CostModel, Work, explain_work
from explainlab.assignment.reference import Reference
from explainlab.lime.classifier import CutoffExceeded, ModelClassifier
from explainlab.lime.explain import make_explainer
from explainlab.lime.params import complete
from explainlab.lime.settings import DEFAULT_MASK_K
from explainlab.masks import iou, top_positive_mask

OK, FAILED, NOT_MEASURED = "ok", "failed", "not measured"


@dataclass(kw_only=True)
class Evaluation:
    """One run of one parameter set on one image."""

    status: str  # OK, FAILED or NOT_MEASURED
    seconds: float  # wall time (beside the cost; never used for a decision)
    label: int
    error: str = ""
    segments: np.ndarray | None = None
    weights: dict[int, float] = field(default_factory=dict)
    work: Work | None = None  # what the run did, counted
    cost_seconds: float = math.nan  # the work in seconds of the cost model (lime's perturber)

    def mask(self, k: int) -> np.ndarray | None:
        if self.segments is None:
            return None
        return top_positive_mask(self.segments, self.weights, k)

    def iou(self, reference: Reference, k: int) -> float:
        """IoU of the top-``k`` mask with the reference's: NaN when not measured, 0 when failed."""
        if self.status == NOT_MEASURED:
            return math.nan
        mask = self.mask(k) if self.status == OK else None
        return 0.0 if mask is None else iou(mask, reference.truth(mask, DEFAULT_MASK_K))


def priced(work: Work, cost_model: CostModel | None) -> float:
    return math.nan if cost_model is None else cost_model.seconds(work, "lime")


def evaluate(
    image: np.ndarray,
    classifier: ModelClassifier,
    params: Mapping[str, Any],
    label: int,
    *,
    seed: int,
    cutoff: float | None = None,
    explainer: str = "lime",
    cost_model: CostModel | None = None,
) -> Evaluation:
    """Run ``explain_instance(image, classifier, **params)`` (every parameter present) as
    the grader would, timed and counted: with lime's own LimeImageExplainer unless
    ``explainer="fast"``. ``cutoff`` (seconds) stops it: the result is not measured."""
    params = complete(params)
    lime_explainer = (
        LimeImageExplainer(random_state=seed)
        if explainer == "lime"
        else make_explainer(explainer, seed)
    )
    seen = _record_samples(lime_explainer)
    start = time.perf_counter()
    classifier.reset(None if cutoff is None else start + cutoff)
    try:
        explanation = lime_explainer.explain_instance(image, classifier, **params)
    except CutoffExceeded:
        return Evaluation(
            status=NOT_MEASURED,
            seconds=time.perf_counter() - start,
            label=label,
            error=f"over {cutoff:g} s",
        )
    except Exception as exc:  # whatever lime raises with these parameters is the outcome
        return Evaluation(
            status=FAILED,
            seconds=time.perf_counter() - start,
            label=label,
            error=f"{type(exc).__name__}: {exc}",
        )
    finally:
        classifier.reset(None)
    seconds = time.perf_counter() - start
    work = explain_work(
        params,
        pixels=image.shape[0] * image.shape[1],
        data=seen["data"],
        classes=seen["classes"],
        chunk=classifier.chunk,
        resize=classifier.resizes,
    )
    if cutoff is not None and seconds > cutoff:
        return Evaluation(
            status=NOT_MEASURED, seconds=seconds, label=label, error=f"over {cutoff:g} s", work=work
        )
    return from_explanation(explanation, label, seconds, work, priced(work, cost_model))


def from_explanation(
    explanation: Any, label: int, seconds: float, work: Work, cost_seconds: float
) -> Evaluation:
    """The evaluation of a finished explanation: FAILED when ``label`` was not explained."""
    if label not in explanation.local_exp:
        return Evaluation(
            status=FAILED,
            seconds=seconds,
            label=label,
            error=f"class {label} not explained (top_labels/labels exclude it)",
            work=work,
            cost_seconds=cost_seconds,
        )
    weights = {int(f): float(w) for f, w in explanation.local_exp[label]}
    segments = np.asarray(explanation.segments)
    return Evaluation(
        status=OK,
        seconds=seconds,
        label=label,
        error="",
        segments=segments,
        weights=weights,
        work=work,
        cost_seconds=cost_seconds,
    )


def _record_samples(explainer: LimeImageExplainer) -> dict[str, Any]:
    """Keep the perturbation matrix and the number of classes of the explainer's next run
    (the counted work needs them; lime does not return them)."""
    seen: dict[str, Any] = {}
    inner = explainer.data_labels

    def data_labels(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        data, labels = inner(*args, **kwargs)
        seen["data"], seen["classes"] = data, labels.shape[1]
        return data, labels

    explainer.data_labels = data_labels  # type: ignore[method-assign]
    return seen
