"""Masks and measures on hand-made arrays: IoU, Dice, area matching, the sweep, pointing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

from explainlab import masks


def _box(top, left, bottom, right, shape=(10, 10)):
    m = np.zeros(shape, dtype=bool)
    m[top:bottom, left:right] = True
    return m


def test_iou_and_dice_known_values():
    a = _box(0, 0, 4, 4)  # 16 pixels
    b = _box(2, 2, 6, 6)  # 16 pixels, 4 shared
    assert masks.iou(a, b) == pytest.approx(4 / 28)
    assert masks.dice(a, b) == pytest.approx(8 / 32)
    assert masks.iou(a, a) == 1.0 and masks.dice(a, a) == 1.0
    assert masks.iou(a, _box(6, 6, 8, 8)) == 0.0
    # Two empty masks: 0, as scikit-learn returns them.
    empty = np.zeros((10, 10), bool)
    assert masks.iou(empty, empty) == 0.0 and masks.dice(empty, empty) == 0.0
    with pytest.raises(ValueError, match="shape"):
        masks.iou(a, np.zeros((5, 5), bool))


def test_iou_and_dice_equal_scikit_learn_on_random_masks():
    # Reference: sklearn's jaccard_score / f1_score on the flattened masks (exact, 1e-12).
    rng = np.random.default_rng(3)
    for density in (0.05, 0.3, 0.7):
        a = rng.random((224, 224)) < density
        b = rng.random((224, 224)) < 0.4
        assert masks.iou(a, b) == pytest.approx(jaccard_score(b.ravel(), a.ravel()), abs=1e-12)
        assert masks.dice(a, b) == pytest.approx(f1_score(b.ravel(), a.ravel()), abs=1e-12)


def test_threshold_mask_normalises_first():
    saliency = np.array([[2.0, 4.0], [6.0, 10.0]])  # normalised: 0, .25, .5, 1
    np.testing.assert_array_equal(
        masks.threshold_mask(saliency, 0.5), [[False, False], [True, True]]
    )
    assert not masks.threshold_mask(np.full((3, 3), 7.0), 0.5).any()  # constant map: nothing


def test_area_matched_mask_has_exactly_the_reference_area():
    saliency = np.zeros((10, 10))
    saliency[:3, :3] = np.arange(9).reshape(3, 3) + 1.0  # 9 salient pixels, the rest tied at 0
    reference = _box(5, 5, 9, 9)  # 16 pixels
    got = masks.area_matched_mask(saliency, reference, np.random.default_rng(0))
    assert got.sum() == 16
    assert got[:3, :3].all()  # the 9 salient pixels come first ...
    # ... and the 7 pixels from the tie at 0 are chosen at random, not in raster order.
    other = masks.area_matched_mask(saliency, reference, np.random.default_rng(1))
    assert other.sum() == 16 and not np.array_equal(got, other)
    # Top 4 of a strictly ordered map are the 4 largest values.
    top = masks.top_mask(saliency, 4, np.random.default_rng(0))
    assert set(saliency[top]) == {6.0, 7.0, 8.0, 9.0}
    with pytest.raises(ValueError):
        masks.top_mask(saliency, 101, np.random.default_rng(0))


def test_rank_order_is_a_permutation_most_salient_first():
    rng = np.random.default_rng(0)
    saliency = rng.integers(0, 4, (20, 20)).astype(float)  # many ties
    order = masks.rank_order(saliency, rng)
    assert sorted(order.tolist()) == list(range(400))
    assert np.all(np.diff(saliency.ravel()[order]) <= 0)


def test_sweep_endpoints():
    saliency = np.linspace(0, 1, 100).reshape(10, 10)
    reference = _box(0, 0, 5, 10)  # the lower-valued half (first five rows)
    curve = masks.iou_sweep(saliency, reference, [0.0, 0.5, 1.0, 1.01])
    # threshold 0 keeps every pixel: IoU = |reference| / all pixels
    assert curve[0] == pytest.approx(0.5)
    # threshold 1 keeps only the maximum (outside the reference); above 1 keeps nothing
    assert curve[2] == 0.0 and curve[3] == 0.0
    # threshold 0.5 keeps the upper half exactly: disjoint from the reference
    assert curve[1] == 0.0
    flipped = masks.iou_sweep(1 - saliency, reference, [0.0, 0.5])
    assert flipped[1] == pytest.approx(1.0)


def test_default_sweep_is_005_to_095():
    from explainlab.compare.settings import DEFAULT_SWEEP

    assert DEFAULT_SWEEP[0] == 0.05 and DEFAULT_SWEEP[-1] == 0.95 and len(DEFAULT_SWEEP) == 19


def test_pointing_game_and_chance_level():
    saliency = np.zeros((10, 10))
    saliency[7, 2] = 1.0
    assert masks.pointing_game(saliency, _box(6, 0, 9, 4)) == 1.0
    assert masks.pointing_game(saliency, _box(0, 0, 3, 3)) == 0.0
    assert masks.chance_iou(0.5, 0.5) == pytest.approx(1 / 3)
    assert masks.chance_iou(0.0, 0.0) == 0.0
    # The chance level is what random masks of those areas reach on average.
    rng = np.random.default_rng(0)
    ious = [masks.iou(rng.random((64, 64)) < 0.3, rng.random((64, 64)) < 0.2) for _ in range(50)]
    assert np.mean(ious) == pytest.approx(masks.chance_iou(0.3, 0.2), abs=0.01)


def test_segment_means_and_superpixel_map():
    segments = np.array([[0, 0, 1], [2, 2, 1]])
    saliency = np.array([[1.0, 3.0, 5.0], [0.0, 1.0, 7.0]])
    np.testing.assert_allclose(masks.segment_means(saliency, segments), [2.0, 6.0, 0.5])
    mapped = masks.superpixel_map(segments, {0: 0.5, 2: -1.0})  # superpixel 1 has no weight
    np.testing.assert_allclose(mapped, [[0.5, 0.5, 0.0], [-1.0, -1.0, 0.0]])


def test_spearman_matches_scipy_and_handles_constant_input():
    from scipy import stats

    rng = np.random.default_rng(0)
    x, y = rng.random(30), rng.random(30)
    rho, p = masks.spearman(x, y)
    ref = stats.spearmanr(x, y)
    assert rho == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    assert all(np.isnan(masks.spearman(np.ones(5), np.arange(5.0))))
