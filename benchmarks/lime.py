"""LIME: lime's LimeImageExplainer vs our vectorised drop-in, same inputs, same seeds.

1. Time outside the classifier at 1000 samples (default quickshift segmentation), with a
   cheap deterministic classifier whose own time is measured and subtracted (target: ours
   <= 0.2 x lime's). It includes the segmentation, identical in both (quickshift, about
   0.3 s), so the perturbation step we replace is also shown on its own.
2. The whole explain_instance on the offline model (EfficientNet-Lite0, lime's defaults).
3. The tuner's candidates evaluated per minute on the offline model: before, each candidate
   a plain lime run (as the tuner ran them); after, candidates that share a segmentation
   and hide colour explained from one set of model outputs (explainlab.assignment.sharing). The
   same candidates (two groups of the default search space); "before" runs every
   ``BEFORE_EVERY``-th of them, which gives its rate.
Each line prints lime's seconds, ours, the ratio and the largest weight difference.
"""

from __future__ import annotations

import time

import numpy as np

from explainlab.assignment.evaluation import evaluate
from explainlab.assignment.settings import SearchSpace
from explainlab.assignment.sharing import evaluate_many
from explainlab.assignment.tune.space import members
from explainlab.images import load_samples, mission_sources
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.explain import make_explainer
from explainlab.lime.params import complete, from_readable
from explainlab.models import load_model

BEFORE_EVERY = 6


class CheapClassifier:
    """Softmax of a fixed linear map of a coarse colour summary; times itself."""

    def __init__(self, classes: int = 1000) -> None:
        self.weights = np.random.default_rng(0).normal(size=(3 * 16, classes))
        self.seconds = 0.0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        coarse = images[:, 28::56, 28::56].reshape(len(images), -1) / 255.0
        logits = coarse @ self.weights
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        self.seconds += time.perf_counter() - start
        return e / e.sum(axis=1, keepdims=True)


def _explain(
    kind: str, crop: np.ndarray, classifier, num_samples: int
) -> tuple[float, float, dict]:
    """(explain_instance seconds, data_labels seconds, weights of the top label)."""
    explainer = make_explainer(kind, seed=0)
    inner = explainer.data_labels
    spent = [0.0]

    def data_labels(*args, **kwargs):  # times the perturbation step (plus the classifier)
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    explainer.data_labels = data_labels
    start = time.perf_counter()
    explanation = explainer.explain_instance(
        crop, classifier, num_samples=num_samples, batch_size=50, random_seed=0
    )
    seconds = time.perf_counter() - start
    label = explanation.top_labels[0]
    return seconds, spent[0], dict(explanation.local_exp[label])


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(abs(a[k] - b[k]) for k in a)


def run(images: int = 2, num_samples: int = 1000, whole_run_samples: int = 1000) -> int:
    model = load_model("efficientnet_lite0", "cpu")
    samples, _ = load_samples(mission_sources()[:images], model.geometry)

    print(f"time outside the classifier, {num_samples} samples (seconds)")
    print(
        f"{'image':28s} {'lime':>8s} {'ours':>8s} {'ratio':>7s}   perturbation: "
        f"{'lime':>7s} {'ours':>7s} {'ratio':>7s} {'max|dw|':>9s}"
    )
    ratios, step_ratios = [], []
    for sample in samples:
        outside, step, weights = {}, {}, {}
        for kind in ("lime", "fast"):
            cheap = CheapClassifier()
            seconds, labels_seconds, weights[kind] = _explain(kind, sample.crop, cheap, num_samples)
            outside[kind] = seconds - cheap.seconds
            step[kind] = labels_seconds - cheap.seconds
        ratios.append(outside["fast"] / outside["lime"])
        step_ratios.append(step["fast"] / step["lime"])
        print(
            f"{sample.key:28s} {outside['lime']:8.3f} {outside['fast']:8.3f} {ratios[-1]:7.3f}"
            f"{'':16s}{step['lime']:7.3f} {step['fast']:7.3f} {step_ratios[-1]:7.3f} "
            f"{_max_diff(weights['lime'], weights['fast']):9.2e}"
        )
    print(
        f"mean ratio ours/lime: outside the classifier {np.mean(ratios):.3f} (target <= 0.2), "
        f"perturbation step {np.mean(step_ratios):.3f}"
    )

    print(f"\nwhole explain_instance on {model.name}, {whole_run_samples} samples (seconds)")
    print(
        f"{'image':28s} {'lime':>8s} {'ours':>8s} {'ratio':>7s} {'max|dw|':>9s} {'model share':>11s}"
    )
    for sample in samples:
        total, weights, model_seconds = {}, {}, {}
        for kind in ("lime", "fast"):
            classifier = ModelClassifier.for_model(model)
            total[kind], _, weights[kind] = _explain(
                kind, sample.crop, classifier, whole_run_samples
            )
            model_seconds[kind] = classifier.seconds
        print(
            f"{sample.key:28s} {total['lime']:8.2f} {total['fast']:8.2f} "
            f"{total['fast'] / total['lime']:7.3f} {_max_diff(weights['lime'], weights['fast']):9.2e} "
            f"{model_seconds['fast'] / total['fast']:11.1%}"
        )
    return 0


def _tuner_candidates() -> list[dict]:
    space = SearchSpace(num_samples=(50, 100, 200))
    readable = members(space, (None, None), 0) + members(space, (None, 0), 0)
    return [complete(from_readable(r, "benchmark")[0]) for r in readable]


def candidates_per_minute(model, sample) -> None:
    """Section 3 of the module docstring."""
    candidates = _tuner_candidates()
    classifier = ModelClassifier.for_model(model)
    label = classifier.top_class(sample.crop)[0]
    start = time.perf_counter()
    shared = evaluate_many(sample.crop, classifier, candidates, label, seed=1)
    after = time.perf_counter() - start
    subset = list(range(0, len(candidates), BEFORE_EVERY))
    start = time.perf_counter()
    plain = [
        evaluate(sample.crop, classifier, candidates[i], label, seed=1, explainer="lime")
        for i in subset
    ]
    before = time.perf_counter() - start
    diff = max(
        (abs(plain[j].weights[f] - shared[i].weights[f]) for j, i in enumerate(subset)
         for f in plain[j].weights),
        default=0.0,
    )  # fmt: skip
    rate_before, rate_after = 60 * len(subset) / before, 60 * len(candidates) / after
    print(
        f"{sample.key:28s} {len(candidates):4d} candidates: before {rate_before:7.1f}/min "
        f"({len(subset)} run), after {rate_after:8.1f}/min, x{rate_after / rate_before:.1f}, "
        f"max|dw| {diff:.1e}"
    )


def main(images: int) -> int:
    status = run(images)
    model = load_model("efficientnet_lite0", "cpu")
    samples, _ = load_samples(mission_sources()[:images], model.geometry)
    print("\ntuner candidates evaluated per minute on efficientnet_lite0 (plain lime per "
          "candidate vs shared model outputs)")  # fmt: skip
    for sample in samples:
        candidates_per_minute(model, sample)
    return status
