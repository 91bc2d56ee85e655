"""The local scoreboard (grader emulation) at tiny scale; the tuner is in test_lime_tune.py."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from explainlab.assignment.export import write_export
from explainlab.assignment.reference import (
    REFERENCE_SEED_BASE,
    TIE_SEED,
    Reference,
    consensus,
    gradcam_reference,
)
from explainlab.assignment.score import load_candidates, score
from explainlab.assignment.settings import ReferenceSettings
from explainlab.assignment.tune import pareto_front
from explainlab.cam.methods import compute_cam
from explainlab.cli import main
from explainlab.images import mission_sources
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.params import load_param_file
from explainlab.masks import area_matched_mask, iou
from tuning import fixed_cost_model

REFERENCE = ReferenceSettings(seeds=1, num_samples=24, batch_size=25)


def test_scoreboard_on_two_images_of_the_offline_model(tmp_path, lite0, mission_samples):
    # goldfish: exactly the reference's own run (same parameters, and the reference's
    # sampling seed) -> plain lime must reproduce it: IoU 1. orange: a cheap candidate.
    params = tmp_path / "p.toml"
    params.write_text(
        f"""
[goldfish]
num_samples = {REFERENCE.num_samples}
batch_size = 10
random_seed = 0
[orange]
num_samples = 12
batch_size = 12
random_seed = 0
top_labels = 1
segmentation_fn = {{ algo_type = "slic", n_segments = 30, start_label = 0 }}
"""
    )
    csv = tmp_path / "score.csv"
    outcome = score(
        load_param_file(params),
        mission_sources(["goldfish", "orange"]),
        csv,
        model=lite0,
        reference_settings=REFERENCE,
        seed=REFERENCE_SEED_BASE,
        cost_model=fixed_cost_model(lite0.name),
    )
    table = pd.read_csv(csv)
    assert list(table["key"]) == ["goldfish", "orange"] and not outcome.failures
    assert list(table["status"]) == ["ok", "ok"]
    assert list(table["label_name"]) == ["goldfish", "orange"]
    goldfish, orange = table.iloc[0], table.iloc[1]
    assert goldfish["iou"] == 1.0
    assert 0.0 <= orange["iou"] <= 1.0 and orange["num_samples"] == 12
    # counted cost beside the wall time: the 12-sample slic run costs less than 24 samples
    # of the default quickshift, whatever the machine was doing
    assert 0 < orange["cost_seconds"] < goldfish["cost_seconds"]
    assert set(table["hypothesis"]) == {"crop"}
    assert outcome.mean_iou == pytest.approx(table["iou"].mean())

    # The reference is cached per image and model: a second request does not recompute.
    classifier = ModelClassifier.for_model(lite0)
    cached = consensus(
        "goldfish", mission_samples["goldfish"].crop, lite0.name, classifier, REFERENCE
    )
    assert cached.cached and classifier.images == 0
    assert cached.mask(5).sum() > 0
    # A consensus of fewer seeds is the mean of the first runs of one of more seeds (what
    # benchmarks/spread.py relies on to compare the two without computing both).
    crop = mission_samples["goldfish"].crop
    two, three = (ReferenceSettings(seeds=n, num_samples=24, batch_size=25) for n in (2, 3))
    light = consensus("goldfish", crop, lite0.name, classifier, two)
    full = consensus("goldfish", crop, lite0.name, classifier, three)
    assert len(full.per_seed) == 3 and np.array_equal(light.per_seed, full.per_seed[:2])
    assert np.array_equal(light.weights, np.mean(full.per_seed[:2], axis=0))

    # Our clock stopping a run leaves it not measured: no IoU (never 0), out of the mean.
    outcome = score(
        load_param_file(params), mission_sources(["orange"]), tmp_path / "cut.csv", model=lite0,
        reference_settings=REFERENCE, cutoff=1e-3,
    )  # fmt: skip
    assert list(outcome.table["status"]) == ["not measured"]
    assert np.isnan(outcome.table["iou"].iloc[0]) and np.isnan(outcome.mean_iou)


def _score_goldfish(tmp_path, lite0, hypothesis, **options):
    """12 samples of lime's defaults scored on goldfish under ``hypothesis``."""
    params = tmp_path / "p.toml"
    params.write_text("[defaults]\nnum_samples = 12\nbatch_size = 12\ntop_labels = 1\n")
    return score(
        load_param_file(params), mission_sources(["goldfish"]), tmp_path / f"{hypothesis}.csv",
        model=lite0, reference_settings=REFERENCE, hypothesis=hypothesis, **options,
    )  # fmt: skip


def test_scoreboard_under_the_full_size_hypothesis(tmp_path, lite0, mission_samples):
    outcome = _score_goldfish(tmp_path, lite0, "full")
    row = outcome.table.iloc[0]
    assert row["status"] == "ok" and row["hypothesis"] == "full" and 0 <= row["iou"] <= 1
    assert row["label_name"] == "goldfish"  # the resizing classifier sees what the crop shows


def test_a_saliency_truth_is_matched_to_each_candidate_masks_area():
    # Planted: the map is brightest in a 20x20 square, then a dimmer 20x40 band; zero elsewhere.
    saliency = np.zeros((224, 224), np.float32)
    saliency[100:120, 100:140] = 0.5
    saliency[100:120, 100:120] = 1.0
    ref = Reference(key="k", label=3, segments=None, weights=None, saliency=saliency)
    square = np.zeros((224, 224), bool)
    square[100:120, 100:120] = True
    assert np.array_equal(ref.truth(square), square)  # its area: the square exactly
    band = np.zeros((224, 224), bool)
    band[100:120, 100:140] = True
    assert np.array_equal(ref.truth(band), band)  # twice the area: the whole band
    elsewhere = np.roll(square, 60, axis=0)
    assert iou(elsewhere, ref.truth(elsewhere)) == 0.0
    # beyond the map's positive pixels the ties are broken alike for every call
    wide = np.zeros((224, 224), bool)
    wide[:40] = True
    first = ref.truth(wide)
    assert first.sum() == wide.sum() and first[100:120, 100:140].all()
    assert np.array_equal(first, ref.truth(wide))
    # the order is sorted once per reference; it gives what masks.area_matched_mask gives
    assert np.array_equal(first, area_matched_mask(saliency, wide, np.random.default_rng(TIE_SEED)))


def test_scoreboard_under_the_gradcam_hypothesis(tmp_path, lite0, mission_samples):
    outcome = _score_goldfish(tmp_path, lite0, "gradcam")
    row = outcome.table.iloc[0]
    assert row["status"] == "ok" and row["hypothesis"] == "gradcam"
    assert row["label_name"] == "goldfish"
    crop = mission_samples["goldfish"].crop
    ref = gradcam_reference("goldfish", crop, lite0, ModelClassifier.for_model(lite0))
    x = lite0.preprocess(crop[None])
    expected = compute_cam("gradcam", lite0.module, lite0.layer(), x, ref.label, impl="library")
    assert np.allclose(ref.saliency, expected, atol=1e-5)  # the library's Grad-CAM
    # the IoU is the candidate's top-5 mask against the map's pixels of the same area
    assert 0.0 < row["iou"] <= 1.0
    refused = _score_goldfish(tmp_path, lite0, "gradcam", reference=tmp_path)  # a mask folder
    assert "gradcam hypothesis has a ground truth of its own" in refused.failures[0].error


def test_scoreboard_reads_pickles_and_mask_references(tmp_path, lite0, mission_samples):
    params = tmp_path / "p.toml"
    params.write_text("[defaults]\nnum_samples = 10\nbatch_size = 10\ntop_labels = 1\n")
    export = write_export(load_param_file(params), tmp_path / "params.pkl")
    candidates = load_candidates(export.pickle_path)
    assert candidates.params_for("kite")[0]["num_samples"] == 10
    # A user's reference mask: the whole image, so IoU = the candidate mask's area share.
    masks = tmp_path / "masks"
    masks.mkdir()
    np.save(masks / "goldfish.npy", np.ones((224, 224), bool))
    outcome = score(
        candidates, mission_sources(["goldfish"]), tmp_path / "s.csv", model=lite0,
        reference=masks,
    )  # fmt: skip
    row = outcome.table.iloc[0]
    assert row["status"] == "ok" and row["reference"] == str(masks)
    assert 0.0 < row["iou"] < 0.5  # 5 superpixels out of about 30


def test_scoreboard_refuses_a_hostile_pickle(tmp_path, capsys):
    class Hostile:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"goldfish": {"segmentation_fn": Hostile()}}))
    assert main(["lime", "score", str(path), "--model", "efficientnet_lite0"]) == 2
    captured = capsys.readouterr()
    assert "refused" in captured.err and "executed" not in captured.out


def test_pareto_front_keeps_only_undominated_points():
    points = pd.DataFrame(
        {"cost_seconds": [1.0, 2.0, 2.0, 3.0, 0.5, 4.0], "iou": [0.5, 0.7, 0.6, 0.65, 0.2, 0.9]}
    )
    front = pareto_front(points)
    assert list(zip(front["cost_seconds"], front["iou"], strict=True)) == [
        (0.5, 0.2), (1.0, 0.5), (2.0, 0.7), (4.0, 0.9),
    ]  # fmt: skip
