"""One LIME explanation of one crop (its masks and IoU come from :mod:`explainlab.masks`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from lime.lime_image import ImageExplanation, LimeImageExplainer

from explainlab.errors import ConfigError
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.fast import FastLimeImageExplainer, fits_of, record_fits


def make_explainer(kind: str, seed: int) -> LimeImageExplainer:
    """A fresh explainer whose sampling is seeded: ``fast`` (ours) or ``lime`` (lime's own)."""
    if kind == "fast":
        return FastLimeImageExplainer(random_state=seed)
    if kind == "lime":
        return record_fits(LimeImageExplainer(random_state=seed))
    raise ValueError(f"unknown explainer {kind!r}; use 'fast' or 'lime'")


def params_explaining(
    params: Mapping[str, Any], label: int, probabilities: np.ndarray
) -> dict[str, Any]:
    """``params``, changed only where needed so that ``label`` gets an explanation.
    ``probabilities``: the model's on the unperturbed crop, from which lime picks its
    ``top_labels`` (``argsort(...)[-top_labels:]``: among ties, the last classes)."""
    used = dict(params)
    top_labels = used.get("top_labels")
    if top_labels and label in np.argsort(probabilities)[-int(top_labels) :]:
        return used  # lime explains it among its top labels
    if top_labels:
        # A class outside lime's top labels was asked for: explain exactly that class.
        used["top_labels"], used["labels"] = None, (label,)
    elif label not in tuple(used.get("labels", (1,))):
        used["labels"] = (*tuple(used.get("labels", ())), label)
    return used


@dataclass(kw_only=True)
class LimeResult:
    label: int
    probability: float  # the model's probability of ``label`` on the unperturbed crop
    segments: np.ndarray  # (H, W) int32
    weights: list[tuple[int, float]]  # every superpixel, by |weight| descending
    intercept: float
    score: float | None  # R² of the label's local fit
    local_pred: float | None
    seconds: float  # wall time of explain_instance
    classifier_seconds: float
    params: dict[str, Any]  # the explain_instance arguments used (object form)
    explanation: ImageExplanation

    def weight_map(self) -> dict[int, float]:
        return dict(self.weights)

    def mask(self, num_features: int) -> np.ndarray:
        """lime's ``get_image_and_mask(label, positive_only=True, num_features=K,
        hide_rest=False)`` mask, as bool."""
        _, mask = self.explanation.get_image_and_mask(
            self.label, positive_only=True, num_features=num_features, hide_rest=False
        )
        return mask > 0


def explain(
    crop: np.ndarray,
    classifier: ModelClassifier,
    params: Mapping[str, Any],
    *,
    seed: int,
    explainer: str = "fast",
    label: int | None = None,
) -> LimeResult:
    """Explain ``label`` (default: the top-1 class) of ``crop`` with ``params``."""
    probabilities = classifier.unperturbed(crop)
    top1 = int(np.argmax(probabilities))
    label = top1 if label is None else int(label)
    used = params_explaining(params, label, probabilities)
    lime_explainer = make_explainer(explainer, seed)
    classifier.reset(classifier.deadline)
    start = time.perf_counter()
    explanation = lime_explainer.explain_instance(crop, classifier, **used)
    seconds = time.perf_counter() - start
    classifier_seconds = classifier.seconds
    if label not in explanation.local_exp:
        raise ConfigError(
            f"class {label} was not explained (explained: {sorted(explanation.local_exp)})",
            hint="set top_labels, or list the class in labels",
        )
    segments = np.asarray(explanation.segments).astype(np.int32)
    fitted = [(int(f), float(w)) for f, w in explanation.local_exp[label]]
    seen = {f for f, _ in fitted}
    n_features = len(np.unique(segments))
    # Superpixels lime's feature selection left out carry no weight.
    weights = fitted + [(i, 0.0) for i in range(n_features) if i not in seen]
    score, local_pred = fits_of(lime_explainer).get(label, (None, None))
    probability = float(probabilities[label])
    return LimeResult(
        label=label,
        probability=probability,
        segments=segments,
        weights=weights,
        intercept=float(explanation.intercept[label]),
        score=score,
        local_pred=local_pred,
        seconds=seconds,
        classifier_seconds=classifier_seconds,
        params=used,
        explanation=explanation,
    )
