"""Deletion / insertion: ours against pytorch-grad-cam's perturbation metric, and the
curves' endpoints, orders and substrates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from explainlab import masks
from explainlab.compare import faithfulness
from helpers import RedInBoxNet, red_patches_image
from test_compare_support import loaded, sample_of

BOX, DISTRACTOR = (32, 32, 128, 128), (144, 144, 208, 208)


@pytest.fixture(scope="module")
def red():
    net = RedInBoxNet(BOX)
    model = loaded(net, "redinbox", 5, "features")
    return model, sample_of("red", red_patches_image(BOX, DISTRACTOR), Path("red.png"))


def test_same_probabilities_as_pytorch_grad_cam_metric(lite0, mission_samples):
    """pytorch-grad-cam's PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, imputer))
    removes the pixels at or above the p-th percentile of the map; on a map without ties
    ours removes the same pixels given that count, and the probabilities agree within 1e-4."""
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        PerturbationConfidenceMetric,
        RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    sample = mission_samples["goldfish"]
    rng = np.random.default_rng(0)
    saliency = gaussian_filter(rng.random((224, 224)), 6)  # smooth, float64: no ties
    assert np.unique(saliency).size == saliency.size
    fill = faithfulness.substrate(lite0, sample, "blur")
    target = 1

    def imputer(x, keep):
        return x * keep + fill * (1 - keep)

    percentiles = (20, 50, 80)
    library = [
        float(
            PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, imputer))(
                sample.tensor[None],
                saliency[None],
                [ClassifierOutputSoftmaxTarget(target)],
                lite0.module,
                return_diff=False,
            )[0]
        )
        for p in percentiles
    ]
    counts = np.array([int((saliency >= np.percentile(saliency, p)).sum()) for p in percentiles])
    ours = faithfulness.perturbed_probabilities(
        lite0,
        sample.tensor,
        fill,
        [masks.rank_order(saliency, rng)],
        counts,
        target,
    )[0]
    np.testing.assert_allclose(ours, library, atol=1e-4)
    assert np.ptp(library) > 1e-3  # the fractions really change the probability


def test_curve_endpoints_are_the_image_and_the_substrate(red):
    model, sample = red
    rng = np.random.default_rng(0)
    order = {"noise": masks.rank_order(rng.random((224, 224)), rng)}
    curves = faithfulness.curves(
        model, sample, 2, order, [], steps=4, deletion_substrate="mean", insertion_substrate="blur"
    )
    by = {c.kind: c for c in curves}
    assert [c.method for c in curves] == ["noise", "noise"]  # no random orders given: no baseline

    def prob(x):
        return float(model.probabilities(x[None])[0, 2])

    mean, blur = (faithfulness.substrate(model, sample, k) for k in ("mean", "blur"))
    deletion, insertion = by["deletion"], by["insertion"]
    np.testing.assert_allclose(deletion.fractions, [0, 0.25, 0.5, 0.75, 1.0])
    assert deletion.probs[0] == pytest.approx(prob(sample.tensor), abs=1e-6)
    assert deletion.probs[-1] == pytest.approx(prob(mean), abs=1e-6)
    assert insertion.probs[0] == pytest.approx(prob(blur), abs=1e-6)
    assert insertion.probs[-1] == pytest.approx(prob(sample.tensor), abs=1e-6)
    assert 0.0 <= deletion.auc <= 1.0 and 0.0 <= insertion.auc <= 1.0


def test_auc_and_pixel_counts():
    assert faithfulness.auc(np.linspace(0, 1, 11), np.ones(11)) == pytest.approx(1.0)
    assert faithfulness.auc(np.linspace(0, 1, 11), np.linspace(1, 0, 11)) == pytest.approx(0.5)
    counts = faithfulness.pixel_counts(32, 224 * 224)
    assert counts[0] == 0 and counts[-1] == 224 * 224 and len(counts) == 33
    assert np.all(np.diff(counts) > 0)


def test_random_orders_shuffle_whole_patches():
    orders = faithfulness.random_orders((224, 224), 16, 2, np.random.default_rng(0))
    assert len(orders) == 2 and not np.array_equal(orders[0], orders[1])
    for order in orders:
        assert sorted(order.tolist()) == list(range(224 * 224))
        first = order[:256]  # the first 16 x 16 pixels are one whole patch
        rows, cols = np.unravel_index(first, (224, 224))
        assert np.ptp(rows // 16) == 0 and np.ptp(cols // 16) == 0
        assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == 256


def test_substrates(red):
    model, sample = red
    assert torch.count_nonzero(faithfulness.substrate(model, sample, "mean")) == 0
    black = faithfulness.substrate(model, sample, "black")
    mean = torch.tensor(model.geometry.mean).view(3, 1, 1)
    std = torch.tensor(model.geometry.std).view(3, 1, 1)
    torch.testing.assert_close(black, (-mean / std).expand(3, 224, 224))
    blur = faithfulness.substrate(model, sample, "blur")
    assert blur.shape == sample.tensor.shape and blur.std() < sample.tensor.std()
    with pytest.raises(ValueError):
        faithfulness.substrate(model, sample, "noise")
