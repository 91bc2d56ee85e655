"""The pair measures (two methods' maps of one image) on small planted arrays: identical
maps agree fully, disjoint ones not at all, the rank correlation is scipy's; and a
known answer through the pairs' table and matrix: two maps planted in the same box agree,
a third elsewhere does not, and the matrix and its extremes say so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score, jaccard_score

from explainlab.compare.pairs import extremes, matrix, pair_frame, pair_means, pair_rows
from explainlab.measures import get_measure, measure_names, measures
from explainlab.measures.pair import MapPair, MapView

SIZE = 32


def _view(saliency: np.ndarray, top: float = 0.2, seed: int = 0) -> MapView:
    return MapView.of(saliency, threshold=0.5, top=top, rng=np.random.default_rng(seed))


def _values(a: np.ndarray, b: np.ndarray, top: float = 0.2) -> dict[str, float]:
    pair = MapPair(_view(a, top, 1), _view(b, top, 2))
    return {spec.name: spec.compute(pair) for spec in measures("pair")}


def _box(top: int, left: int, size: int = 8, shape: str = "flat") -> np.ndarray:
    """A map that is 0 outside the box and positive inside it: flat, or a bump."""
    saliency = np.zeros((SIZE, SIZE))
    rows, cols = np.mgrid[0:size, 0:size]
    centre = (size - 1) / 2
    bump = 1.0 - ((rows - centre) ** 2 + (cols - centre) ** 2) / (2 * centre**2 + 1)
    saliency[top : top + size, left : left + size] = 1.0 if shape == "flat" else bump
    return saliency


def test_the_family_is_registered_in_order():
    assert measure_names("pair") == (
        "pair_iou_threshold",
        "pair_dice_threshold",
        "pair_iou_top",
        "pair_iou_top_chance",
        "pair_rho",
    )
    assert get_measure("pair_iou_top").chance == "pair_iou_top_chance"


def test_identical_maps_agree_fully_and_disjoint_ones_not_at_all():
    rng = np.random.default_rng(0)
    smooth = rng.random((SIZE, SIZE))
    same = _values(smooth, smooth)
    for name in ("pair_iou_threshold", "pair_dice_threshold", "pair_iou_top", "pair_rho"):
        assert same[name] == pytest.approx(1.0), name
    share = 64 / SIZE**2  # the top masks are exactly the boxes: no tie at zero enters
    apart = _values(_box(0, 0), _box(20, 20), top=share)
    for name in ("pair_iou_threshold", "pair_dice_threshold", "pair_iou_top"):
        assert apart[name] == 0.0, name
    assert apart["pair_rho"] < 0  # each box's pixels are the other's lowest
    # the chance level of two random masks of that share: a / (2 - a)
    assert apart["pair_iou_top_chance"] == pytest.approx(share / (2 - share))
    for spec in measures("pair"):  # symmetric, and within the stated range
        a, b = _box(0, 0, shape="bump"), rng.random((SIZE, SIZE))
        forth = spec.compute(MapPair(_view(a, seed=1), _view(b, seed=2)))
        back = spec.compute(MapPair(_view(b, seed=2), _view(a, seed=1)))
        assert forth == pytest.approx(back) and spec.range[0] <= forth <= spec.range[1]


def test_masks_measures_equal_scikit_learn():
    rng = np.random.default_rng(3)
    for _ in range(5):
        a, b = rng.random((SIZE, SIZE)), rng.random((SIZE, SIZE)) ** 3
        va, vb = _view(a, seed=1), _view(b, seed=2)
        values = _values(a, b)
        fa, fb = va.threshold_mask.ravel(), vb.threshold_mask.ravel()
        assert values["pair_iou_threshold"] == pytest.approx(jaccard_score(fa, fb))
        assert values["pair_dice_threshold"] == pytest.approx(f1_score(fa, fb))
        ta, tb = va.top_mask.ravel(), vb.top_mask.ravel()
        assert ta.sum() == tb.sum() == round(0.2 * SIZE**2)
        assert values["pair_iou_top"] == pytest.approx(jaccard_score(ta, tb))


def test_pixel_rho_is_scipys_spearman():
    rho = get_measure("pair_rho").compute
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    y = np.array([[2.0, 1.0, 4.0, 3.0, 5.0]])  # sum d^2 = 4: 1 - 6*4 / (5*24) = 0.8
    assert rho(MapPair(_view(x), _view(y))) == pytest.approx(0.8)
    assert rho(MapPair(_view(x), _view(-x))) == pytest.approx(-1.0)
    rng = np.random.default_rng(5)
    for _ in range(3):  # with ties (a CAM's zero floor), as scipy ranks them
        a = np.maximum(rng.normal(size=(SIZE, SIZE)), 0)
        b = np.round(rng.random((SIZE, SIZE)), 1)
        expected = stats.spearmanr(a.ravel(), b.ravel()).statistic
        assert rho(MapPair(_view(a), _view(b))) == pytest.approx(expected, abs=1e-12)
    constant = np.full((SIZE, SIZE), 0.5)
    assert np.isnan(rho(MapPair(_view(constant), _view(a))))


def test_two_maps_in_the_same_box_agree_and_the_matrix_shows_it():
    """Known answer: A and B planted in the same box (a flat box and a bump), C in another
    box; on two images A-B agree (IoU 1 at the box's share, high rho), A-C and B-C do
    not; the matrix is symmetric and the extremes name the two pairs."""
    share = 64 / SIZE**2
    rows = []
    boxes = {"one": ((4, 4), (20, 20)), "two": ((12, 16), (0, 0))}  # (A and B's, C's)
    for key, ((top, left), elsewhere) in boxes.items():
        maps = {
            "gradcam": _box(top, left),
            "saliency": _box(top, left, shape="bump"),
            "rise": _box(*elsewhere),
        }
        rows += pair_rows(
            key, maps, threshold=0.5, top=share, rng=lambda m: np.random.default_rng(len(m))
        )
    pairs = pair_frame(rows)
    assert len(pairs) == 2 * 3 * len(measures("pair"))
    # the registry's order: gradcam (a CAM) before saliency before rise
    assert list(dict.fromkeys(zip(pairs["method_a"], pairs["method_b"], strict=True))) == [
        ("gradcam", "saliency"),
        ("gradcam", "rise"),
        ("saliency", "rise"),
    ]
    means = pair_means(pairs)
    assert (means["images"] == 2).all()
    iou = matrix(means, "pair_iou_top")
    assert list(iou.index) == ["gradcam", "saliency", "rise"]
    assert iou.loc["gradcam", "saliency"] == 1.0 == iou.loc["saliency", "gradcam"]
    assert iou.loc["gradcam", "rise"] == 0.0 and iou.loc["saliency", "rise"] == 0.0
    assert np.isnan(np.diag(iou.to_numpy())).all()
    rho = matrix(means, "pair_rho")
    assert rho.loc["gradcam", "saliency"] > 0.9 > 0 > rho.loc["gradcam", "rise"]
    most, least = extremes(means, "pair_rho")
    assert (most["method_a"], most["method_b"]) == ("gradcam", "saliency")
    assert least["mean"] == min(rho.loc["gradcam", "rise"], rho.loc["saliency", "rise"])
    assert isinstance(pairs, pd.DataFrame) and list(pairs.columns)[:3] == [
        "key",
        "method_a",
        "method_b",
    ]
