"""LIME runs: the classifier function, reproducibility, the stage's files, a planted answer."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from lime.wrappers.scikit_image import SegmentationAlgorithm

from explainlab.images import IMAGENET_GEOMETRY, MISSION_KEYS, mission_sources, to_tensor
from explainlab.lime.classifier import CutoffExceeded, ModelClassifier
from explainlab.lime.explain import explain
from explainlab.lime.run import run_lime
from explainlab.lime.settings import LimeSettings
from explainlab.masks import iou, top_positive_mask
from helpers import RedInBoxNet, red_patches_image


def test_classifier_returns_softmax_probabilities_of_the_models_normalised_input(
    lite0, mission_samples
):
    crop = mission_samples["goldfish"].crop
    batch = np.stack([crop, crop[::-1], np.zeros_like(crop), crop // 2])
    classifier = ModelClassifier.for_model(lite0, chunk=3)  # chunks of 3 and 1
    probabilities = classifier(batch)
    assert probabilities.shape == (4, 1000) and probabilities.dtype == np.float64
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The same numbers as the model on its own preprocessing: probabilities, not logits.
    expected = lite0.probabilities(lite0.preprocess(batch)).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert classifier.top_class(crop)[0] == 1  # goldfish
    assert classifier.images == 5 and classifier.seconds > 0


def test_classifier_cutoff_stops_an_explanation():
    net = RedInBoxNet((64, 64, 128, 128))
    classifier = ModelClassifier(
        module=net, preprocess=lambda x: to_tensor(x, IMAGENET_GEOMETRY), deadline=0.0
    )
    with pytest.raises(CutoffExceeded):
        classifier(np.zeros((2, 224, 224, 3), np.uint8))


def _net_classifier(box):
    net = RedInBoxNet(box)
    return ModelClassifier(module=net, preprocess=lambda x: to_tensor(x, IMAGENET_GEOMETRY))


def test_known_answer_top_superpixels_fall_in_the_planted_box():
    box, distractor = (64, 64, 128, 128), (150, 150, 200, 200)
    image = red_patches_image(box, distractor)
    # Grid-like superpixels (slic on a flat-ish image) so that the box is a union of them.
    segmentation = SegmentationAlgorithm("slic", n_segments=49, compactness=50, start_label=0)
    # hide_color=0: a hidden superpixel turns black, which has no redness, so hiding part of
    # the box lowers the class-2 evidence. With lime's default (hide_color=None) a hidden
    # red superpixel takes its own mean colour, still red: the model would not notice.
    result = explain(
        image,
        _net_classifier(box),
        {
            "hide_color": 0,
            "top_labels": None,
            "labels": (2,),
            "num_samples": 300,
            "batch_size": 100,
            "segmentation_fn": segmentation,
            "random_seed": 0,
        },
        seed=0,
        label=2,
    )
    inside = np.zeros((224, 224), bool)
    inside[64:128, 64:128] = True
    in_distractor = np.zeros((224, 224), bool)
    in_distractor[150:200, 150:200] = True
    top = [s for s, w in result.weights if w > 0][:3]
    for segment in top:
        pixels = result.segments == segment
        assert (pixels & inside).sum() / pixels.sum() > 0.5, f"superpixel {segment} outside the box"
    mask = result.mask(4)
    assert (mask & inside).sum() / mask.sum() > 0.8
    assert not (mask & in_distractor).any()
    # Superpixels of the red distractor carry no real weight.
    weights = result.weight_map()
    distractor_segments = np.unique(result.segments[in_distractor])
    largest = max(abs(w) for w in weights.values())
    assert all(abs(weights[s]) < 0.1 * largest for s in distractor_segments)
    # Why hide_color=0: with lime's default the planted evidence is invisible to LIME.
    invisible = explain(
        image,
        _net_classifier(box),
        {
            "top_labels": None,
            "labels": (2,),
            "num_samples": 100,
            "batch_size": 100,
            "segmentation_fn": segmentation,
            "random_seed": 0,
        },
        seed=0,
        label=2,
    )
    assert max(abs(w) for _, w in invisible.weights) < 0.01 * largest


def test_top_positive_mask_is_limes_positive_only_mask():
    box = (64, 64, 128, 128)
    result = explain(
        red_patches_image(box, (150, 150, 200, 200)),
        _net_classifier(box),
        {
            "hide_color": 0,
            "top_labels": 5,
            "num_samples": 60,
            "batch_size": 60,
            "segmentation_fn": SegmentationAlgorithm("slic", n_segments=30, start_label=0),
        },
        seed=1,
    )
    for k in (1, 3, 5, 10):
        ours = top_positive_mask(result.segments, result.weight_map(), k)
        np.testing.assert_array_equal(ours, result.mask(k))
    assert iou(result.mask(3), result.mask(3)) == 1.0
    # the one convention (explainlab.masks): two empty masks never count as agreement
    assert iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 0.0
    assert iou(np.eye(2, dtype=bool), ~np.eye(2, dtype=bool)) == 0.0


def _run(tmp_path, lite0, name, **settings):
    params = tmp_path / "p.toml"
    params.write_text("[defaults]\nnum_samples = 16\nbatch_size = 16\n")
    return run_lime(
        LimeSettings(model="efficientnet_lite0", params=str(params), **settings),
        mission_sources(["goldfish"]),
        tmp_path / name,
        model=lite0,
    )


def test_stage_writes_the_layout_and_the_same_seed_gives_identical_weights(tmp_path, lite0, mirror):
    first = _run(tmp_path, lite0, "a")
    folder = first.folder / "goldfish"
    segments = np.load(folder / "segments.npy")
    mask = np.load(folder / "mask.npy")
    assert segments.shape == (224, 224) and segments.dtype == np.int32
    assert mask.shape == (224, 224) and mask.dtype == bool and mask.any()
    weights = json.loads((folder / "weights.json").read_text())
    assert set(weights) == {"label", "label_name", "weights", "intercept", "score", "local_pred"}
    assert weights["label"] == 1 and weights["label_name"] == "goldfish"
    ids = [s for s, _ in weights["weights"]]
    assert sorted(ids) == list(range(len(np.unique(segments))))  # every superpixel
    magnitudes = [abs(w) for _, w in weights["weights"]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    positive = [s for s, w in weights["weights"] if w > 0][:5]
    np.testing.assert_array_equal(mask, np.isin(segments, positive))
    item = json.loads((folder / "item.json").read_text())
    assert {"key", "label", "label_name", "seconds", "num_features_mask", "params"} <= set(item)
    assert item["params"]["num_samples"] == 16 and item["params"]["random_seed"] == 0
    assert item["num_features_mask"] == 5 and item["seconds"] > 0
    for figure in ("boundaries", "positive", "evidence", "weights", "panel"):
        assert (folder / f"{figure}.png").stat().st_size > 1000
    timings = pd.read_csv(first.folder / "timings.csv")
    assert list(timings.columns) == ["key", "seconds"] and list(timings["key"]) == ["goldfish"]
    exported = pickle.loads((first.folder / "params.pkl").read_bytes())
    assert list(exported) == list(MISSION_KEYS) and exported["goldfish"]["num_samples"] == 16

    second = _run(tmp_path, lite0, "b")
    assert (second.folder / "goldfish" / "weights.json").read_text() == (
        folder / "weights.json"
    ).read_text()
    np.testing.assert_array_equal(np.load(second.folder / "goldfish" / "mask.npy"), mask)
    # Plain lime with the same seeds gives the same weights (our explainer is a drop-in).
    third = _run(tmp_path, lite0, "c", explainer="lime")
    lime_weights = json.loads((third.folder / "goldfish" / "weights.json").read_text())
    np.testing.assert_allclose(
        [w for _, w in lime_weights["weights"]], [w for _, w in weights["weights"]], atol=1e-6
    )
    # Another seed samples differently, so the test above could fail.
    other = _run(tmp_path, lite0, "d", seed=1)
    other_weights = json.loads((other.folder / "goldfish" / "weights.json").read_text())
    assert other_weights["weights"] != weights["weights"]
    # Same settings again: nothing is recomputed.
    assert _run(tmp_path, lite0, "a").skipped


def test_a_bad_image_fails_alone(tmp_path, lite0):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    good = tmp_path / "red.png"
    from PIL import Image

    Image.fromarray(red_patches_image((64, 64, 128, 128), (150, 150, 200, 200))).save(good)
    from explainlab.images import ImageSource

    params = tmp_path / "p.json"
    params.write_text(json.dumps({"defaults": {"num_samples": 12, "batch_size": 12}}))
    outcome = run_lime(
        LimeSettings(model="efficientnet_lite0", params=str(params)),
        [ImageSource("broken", bad), ImageSource("red", good)],
        tmp_path / "run",
        model=lite0,
    )
    assert [f.key for f in outcome.failures] == ["broken"]
    assert list(outcome.table["key"]) == ["red"]
    assert torch.is_tensor(lite0.preprocess(np.zeros((1, 4, 4, 3), np.uint8)))
