"""Many parameter sets explained from one set of model outputs.

What the model sees depends only on a parameter set's segmentation, hide colour and
random_seed (it seeds lime's default quickshift; when None it is drawn from the
explainer's random state) and on its number of samples. ``num_features``,
``top_labels``, ``labels``, the regressor, the distance metric and the kernel only change
the regression afterwards, and ``batch_size`` not even that. lime draws the perturbation
matrix of n samples as ``randint(0, 2, n * features).reshape(n, features)`` from the
explainer's random state, so for m > n the matrix of n samples is the first n rows of the
matrix of m (tested on the installed numpy).

So a :class:`SampleGroup` computes, for one image, explainer seed and (segmentation, hide
colour, random_seed), the perturbation matrix and the classifier's outputs once, at the
largest sample count; each member is then explained by lime's own regression
(``LimeBase.explain_instance_with_data``) on the first n rows. The numbers are those of
plain lime run with the member's parameters and the same explainer state (tested to be
equal; on a real model up to the model's own batch-size noise, ~1e-7 in probabilities).
The random state after the draw differs between m and n samples, but lime uses it
afterwards only to build Ridge regressors, whose solvers here never draw from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lime.lime_image import ImageExplanation
from lime.wrappers.scikit_image import SegmentationAlgorithm
from skimage.color import gray2rgb
from sklearn.metrics import pairwise_distances

from explainlab.assignment.cost import (
    CostModel,
    Work,
    explain_work,
    model_calls,
    regression_work,
    segmentation_key,
)
from explainlab.assignment.evaluation import FAILED, Evaluation, from_explanation, priced
from explainlab.lime.classifier import ModelClassifier, classifier_traits
from explainlab.lime.fast import FastLimeImageExplainer
from explainlab.lime.params import complete, to_readable

GROUP_KEYS: tuple[str, ...] = ("segmentation_fn", "hide_color", "random_seed")


def group_key(params: Mapping[str, Any]) -> str:
    """What a parameter set's model outputs depend on (besides the number of samples)."""
    readable = to_readable({k: params.get(k) for k in GROUP_KEYS})
    return json.dumps(readable, sort_keys=True)


class SampleGroup:
    """The perturbations and model outputs of one image, explainer seed and group (see the
    module docstring), at ``num_samples``; members with at most that many samples are
    explained from them. ``segmentations`` caches segment maps between groups of one
    image (hide colours of one segmentation share it)."""

    def __init__(
        self,
        image: np.ndarray,
        classifier: ModelClassifier,
        params: Mapping[str, Any],
        *,
        seed: int,
        num_samples: int,
        batch_size: int,
        segmentations: dict[tuple[str, Any], tuple[np.ndarray, float]] | None = None,
    ) -> None:
        params = complete(params)
        self.image = gray2rgb(image) if image.ndim == 2 else image
        self.chunk, self.resizes = classifier_traits(classifier)
        self.num_samples = num_samples
        self.explainer = FastLimeImageExplainer(random_state=seed)
        self.segments, self.segmentation_seconds, segmented = self._segment(params, segmentations)
        fudged = self._fudged(params["hide_color"])
        start = time.perf_counter()
        if isinstance(classifier, ModelClassifier):
            classifier.reset(None)
        self.data, self.labels = self.explainer.data_labels(
            self.image, fudged, self.segments, classifier, num_samples, batch_size=batch_size
        )
        self.samples_seconds = time.perf_counter() - start
        pixels = self.image.shape[0] * self.image.shape[1]
        features = self.data.shape[1]
        self.work = Work(  # what computing the group cost (its members' regressions add theirs)
            pixels=pixels,
            segmentation=segmented,
            rows=num_samples,
            hidden=int(self.data.size - np.count_nonzero(self.data)),
            chunks=model_calls(num_samples, batch_size, self.chunk),
            resized_pixels=num_samples * pixels if self.resizes else 0,
        ) + Work(pixels=pixels, rows=1, hidden=features if params["hide_color"] is None else 0)
        self.fitted = Work(pixels=pixels)  # the regressions actually run (memoised ones once)
        self._distances: dict[tuple[int, str], np.ndarray] = {}
        self._fits: dict[tuple[Any, ...], tuple[Any, float]] = {}

    @property
    def total_work(self) -> Work:
        """What this group has cost so far: its samples and the regressions run."""
        return self.work + self.fitted

    def _segment(self, params: dict[str, Any], cache: dict | None) -> tuple[np.ndarray, float, str]:
        """lime's explain_instance up to the segments: the random_seed draw when None,
        lime's default quickshift when no segmentation_fn."""
        random_seed = params["random_seed"]
        if random_seed is None:
            random_seed = self.explainer.random_state.randint(0, high=1000)
        segmentation_fn = params["segmentation_fn"]
        readable = to_readable({"s": segmentation_fn})["s"]
        key = (segmentation_key(readable), random_seed if segmentation_fn is None else None)
        if cache is not None and key in cache:
            segments, seconds = cache[key]
            return segments, seconds, ""
        if segmentation_fn is None:
            segmentation_fn = SegmentationAlgorithm(
                "quickshift", kernel_size=4, max_dist=200, ratio=0.2, random_seed=random_seed
            )
        start = time.perf_counter()
        segments = segmentation_fn(self.image)
        seconds = time.perf_counter() - start
        if cache is not None:
            cache[key] = (segments, seconds)
        return segments, seconds, key[0]

    def _fudged(self, hide_color: Any) -> np.ndarray:
        """lime's image of hidden superpixels: each one's mean colour, or ``hide_color``."""
        fudged = self.image.copy()
        if hide_color is None:
            for x in np.unique(self.segments):
                fudged[self.segments == x] = (
                    np.mean(self.image[self.segments == x][:, 0]),
                    np.mean(self.image[self.segments == x][:, 1]),
                    np.mean(self.image[self.segments == x][:, 2]),
                )
        else:
            fudged[:] = hide_color
        return fudged

    def explanation(
        self, params: Mapping[str, Any], only_label: int | None = None
    ) -> ImageExplanation:
        """lime's explanation of a member (``params``, object form): every label lime would
        explain, or only ``only_label`` of them (the others do not change its weights)."""
        params = complete(params)
        n = int(params["num_samples"])
        if n > self.num_samples:
            raise ValueError(f"{n} samples asked of a group of {self.num_samples}")
        data, labels = self.data[:n], self.labels[:n]
        metric = params["distance_metric"]
        if (n, metric) not in self._distances:
            self._distances[n, metric] = pairwise_distances(
                data, data[0].reshape(1, -1), metric=metric
            ).ravel()
        explanation = ImageExplanation(self.image, self.segments)
        top = params["labels"]
        if params["top_labels"]:
            top = np.argsort(labels[0])[-params["top_labels"] :]
            explanation.top_labels = list(top)
            explanation.top_labels.reverse()
        for label in top:
            if only_label is not None and label != only_label:
                continue
            fit = self._fit(params, n, int(label), self._distances[n, metric])
            (
                explanation.intercept[label],
                explanation.local_exp[label],
                explanation.score,
                explanation.local_pred,
            ) = fit
        return explanation

    def _fit(self, params: dict[str, Any], n: int, label: int, distances: np.ndarray) -> Any:
        """lime's regression of one label on the first ``n`` samples (memoised: members
        that differ only in top_labels share it)."""
        regressor = to_readable({"r": params["model_regressor"]})["r"]
        key = (n, label, params["num_features"], params["distance_metric"], json.dumps(regressor))
        if key not in self._fits:
            start = time.perf_counter()
            result = self.explainer.base.explain_instance_with_data(
                self.data[:n],
                self.labels[:n],
                distances,
                label,
                params["num_features"],
                model_regressor=params["model_regressor"],
                feature_selection=self.explainer.feature_selection,
            )
            self._fits[key] = (result, time.perf_counter() - start)
            fits, cells = regression_work(n, self.data.shape[1], params["num_features"], 1)
            self.fitted = self.fitted + Work(fits=fits, fit_cells=cells)
        (intercept, weights, score, local_pred), _ = self._fits[key]
        return intercept, list(weights), score, local_pred

    def fit_seconds(self) -> float:
        return sum(seconds for _, seconds in self._fits.values())

    def evaluate(
        self, params: Mapping[str, Any], label: int, cost_model: CostModel | None = None
    ) -> Evaluation:
        """A member as plain lime would run it: its label's weights, its counted work and
        cost, and a wall time apportioned from the group's (segmentation, its share of
        the samples, its regression)."""
        params = complete(params)
        n = int(params["num_samples"])
        start = time.perf_counter()
        try:
            explanation = self.explanation(params, only_label=label)
        except Exception as exc:  # what lime would raise with these parameters
            return Evaluation(
                status=FAILED,
                seconds=time.perf_counter() - start,
                label=label,
                error=f"{type(exc).__name__}: {exc}",
            )
        own = time.perf_counter() - start
        work = explain_work(
            params,
            pixels=self.image.shape[0] * self.image.shape[1],
            data=self.data[:n],
            classes=self.labels.shape[1],
            chunk=self.chunk,
            resize=self.resizes,
        )
        seconds = self.segmentation_seconds + self.samples_seconds * n / self.num_samples + own
        return from_explanation(explanation, label, seconds, work, priced(work, cost_model))


def evaluate_many(
    image: np.ndarray,
    classifier: ModelClassifier,
    candidates: Sequence[Mapping[str, Any]],
    label: int,
    *,
    seed: int,
    cost_model: CostModel | None = None,
) -> list[Evaluation]:
    """Each candidate (object form) evaluated on ``image`` as plain lime with explainer
    seed ``seed`` would, candidates of one group sharing one set of model outputs."""
    candidates = [complete(c) for c in candidates]
    groups: dict[str, list[int]] = {}
    for i, params in enumerate(candidates):
        groups.setdefault(group_key(params), []).append(i)
    segmentations: dict = {}
    out: list[Evaluation | None] = [None] * len(candidates)
    for members in groups.values():
        largest = max(members, key=lambda i: candidates[i]["num_samples"])
        start = time.perf_counter()
        try:
            group = SampleGroup(
                image,
                classifier,
                candidates[largest],
                seed=seed,
                num_samples=int(candidates[largest]["num_samples"]),
                batch_size=int(candidates[largest]["batch_size"]),
                segmentations=segmentations,
            )
        except Exception as exc:  # the segmentation or the classifier refused: all fail
            seconds, error = time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
            for i in members:
                out[i] = Evaluation(status=FAILED, seconds=seconds, label=label, error=error)
            continue
        for i in members:
            out[i] = group.evaluate(candidates[i], label, cost_model)
    return [e for e in out if e is not None]
