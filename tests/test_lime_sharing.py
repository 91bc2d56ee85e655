"""Candidates explained from one group's shared model outputs against plain lime run with
each candidate's parameters and the same explainer state: equal weights (exactly, with a
classifier whose outputs per image do not depend on the batch; within 1e-5 on the
offline model, whose float32 outputs move by ~1e-7 between batch sizes)."""

from __future__ import annotations

import numpy as np
import pytest
from lime.lime_image import LimeImageExplainer

from explainlab.assignment.sharing import SampleGroup, evaluate_many, group_key
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.params import complete, errors, from_readable

SIZE = 48


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    image[8:30, 10:40] = (210, 40, 30)
    image[32:46, 4:24] = (30, 60, 200)
    return image


class PerImage:
    """Softmax of a fixed linear map of a coarse colour grid, one image at a time (so an
    image's output never depends on the batch it came in)."""

    def __init__(self, classes: int = 6) -> None:
        self.weights = np.random.default_rng(1).normal(size=(3 * 16, classes))
        self.images = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.images += len(images)
        out = []
        for image in images:
            coarse = image.reshape(4, SIZE // 4, 4, SIZE // 4, 3).mean(axis=(1, 3)).ravel()
            logits = coarse / 255.0 @ self.weights
            e = np.exp(logits - logits.max())
            out.append(e / e.sum())
        return np.array(out)


def _params(readable: dict) -> dict:
    params, problems = from_readable(readable, "test")
    assert not errors(problems)
    return complete(params)


SEGMENTATIONS = (
    None,
    {"algo_type": "slic", "n_segments": 20, "compactness": 10, "start_label": 0},
    {"algo_type": "felzenszwalb", "scale": 100, "min_size": 30},
)
MEMBERS = [  # differ in what only changes the regression, and in the number of samples
    {"num_samples": 90, "top_labels": 5, "batch_size": 25},
    {"num_samples": 40, "top_labels": 1, "batch_size": 7},
    {"num_samples": 60, "top_labels": None, "labels": [2, 0], "num_features": 4},
    {"num_samples": 75, "num_features": 10, "model_regressor": {"class": "Ridge", "alpha": 0.1}},
    {"num_samples": 50, "distance_metric": "euclidean", "top_labels": 2},
]


def test_the_perturbation_matrix_of_fewer_samples_is_a_prefix_on_this_numpy():
    for seed in range(4):
        for features in (1, 7, 48):
            many = np.random.RandomState(seed).randint(0, 2, 400 * features).reshape(400, features)
            few = np.random.RandomState(seed).randint(0, 2, 37 * features).reshape(37, features)
            np.testing.assert_array_equal(many[:37], few)


@pytest.mark.parametrize("segmentation", SEGMENTATIONS, ids=["quickshift", "slic", "felzenszwalb"])
@pytest.mark.parametrize("hide_color", [None, 0])
@pytest.mark.parametrize("random_seed", [None, 3])
def test_every_member_equals_plain_lime(segmentation, hide_color, random_seed):
    image = _image()
    shared = {"segmentation_fn": segmentation, "hide_color": hide_color, "random_seed": random_seed}
    members = [_params(shared | m) for m in MEMBERS]
    assert len({group_key(m) for m in members}) == 1
    classifier = PerImage()
    group = SampleGroup(image, classifier, members[0], seed=7, num_samples=90, batch_size=30)
    assert classifier.images == 90  # the model ran once, for all members
    for params in members:
        ours = group.explanation(params)
        plain = LimeImageExplainer(random_state=7).explain_instance(image, PerImage(), **params)
        np.testing.assert_array_equal(ours.segments, plain.segments)
        assert getattr(ours, "top_labels", None) == getattr(plain, "top_labels", None)
        assert ours.local_exp.keys() == plain.local_exp.keys()
        for label, weights in plain.local_exp.items():
            assert ours.local_exp[label] == weights  # same features, same order, same floats
            assert ours.intercept[label] == plain.intercept[label]
        assert ours.score == plain.score


def test_evaluate_many_groups_candidates_and_counts_one_model_run_per_group():
    image = _image(1)
    candidates = [
        _params({"num_samples": n, "hide_color": h, "top_labels": 1, "random_seed": 0})
        for n in (20, 50, 35)
        for h in (None, 0)
    ]
    classifier = PerImage()
    label = int(np.argmax(classifier(image[None])[0]))
    classifier.images = 0
    results = evaluate_many(image, classifier, candidates, label, seed=4)
    assert classifier.images == 2 * 50  # two groups (hide colours), each at its largest count
    for params, result in zip(candidates, results, strict=True):
        plain = LimeImageExplainer(random_state=4).explain_instance(image, PerImage(), **params)
        assert result.status == "ok"
        assert result.weights == {int(f): float(w) for f, w in plain.local_exp[label]}
        assert result.work.images == params["num_samples"]  # counted as plain lime's own run


def test_a_member_that_does_not_explain_the_label_fails_like_plain_lime():
    image = _image(2)
    params = _params({"num_samples": 20, "top_labels": None, "labels": [0]})
    [result] = evaluate_many(image, PerImage(), [params], label=3, seed=0)
    assert result.status == "failed" and "not explained" in result.error


def test_members_match_plain_lime_on_the_offline_model(lite0, mission_samples):
    crop = mission_samples["goldfish"].crop
    classifier = ModelClassifier.for_model(lite0)
    label = classifier.top_class(crop)[0]
    members = [
        _params({"num_samples": n, "top_labels": t, "batch_size": 20, "random_seed": 0})
        for n, t in ((30, 1), (16, 5))
    ]
    group = SampleGroup(crop, classifier, members[0], seed=1, num_samples=30, batch_size=20)
    for params in members:
        ours = dict(group.explanation(params, only_label=label).local_exp[label])
        plain = LimeImageExplainer(random_state=1).explain_instance(crop, classifier, **params)
        theirs = dict(plain.local_exp[label])
        assert ours.keys() == theirs.keys()
        np.testing.assert_allclose([ours[k] for k in theirs], list(theirs.values()), atol=1e-5)
