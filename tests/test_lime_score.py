"""The local scoreboard (grader emulation) and the tuner, at tiny scale."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from explainlab.cli import main
from explainlab.images import IMAGENET_GEOMETRY, ImageSource, mission_sources
from explainlab.lime.classifier import ModelClassifier
from explainlab.lime.export import write_export
from explainlab.lime.params import load_param_file
from explainlab.lime.reference import REFERENCE_SEED_BASE, consensus
from explainlab.lime.score import load_candidates, score
from explainlab.lime.settings import ReferenceSettings, SearchSpace, TuneSettings
from explainlab.lime.tune import pareto_front, tune
from explainlab.models.registry import LoadedModel, ModelSpec
from helpers import RedInBoxNet, red_patches_image

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
    )
    table = pd.read_csv(csv)
    assert list(table["key"]) == ["goldfish", "orange"] and not outcome.failures
    assert list(table["status"]) == ["ok", "ok"]
    assert list(table["label_name"]) == ["goldfish", "orange"]
    goldfish, orange = table.iloc[0], table.iloc[1]
    assert goldfish["iou"] == 1.0
    assert 0.0 <= orange["iou"] <= 1.0 and orange["num_samples"] == 12
    assert outcome.mean_iou == pytest.approx(table["iou"].mean())

    # The reference is cached per image and model: a second request does not recompute.
    classifier = ModelClassifier.for_model(lite0)
    cached = consensus(
        "goldfish", mission_samples["goldfish"].crop, lite0.name, classifier, REFERENCE
    )
    assert cached.cached and classifier.images == 0
    assert cached.mask(5).sum() > 0

    # A cutoff turns an image into a failure with IoU 0.
    outcome = score(
        load_param_file(params), mission_sources(["orange"]), tmp_path / "cut.csv", model=lite0,
        reference_settings=REFERENCE, cutoff=1e-3,
    )  # fmt: skip
    assert list(outcome.table["status"]) == ["cutoff"] and outcome.table["iou"].iloc[0] == 0.0


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
        {"seconds": [1.0, 2.0, 2.0, 3.0, 0.5, 4.0], "iou": [0.5, 0.7, 0.6, 0.65, 0.2, 0.9]}
    )
    front = pareto_front(points)
    assert list(zip(front["seconds"], front["iou"], strict=True)) == [
        (0.5, 0.2), (1.0, 0.5), (2.0, 0.7), (4.0, 0.9),
    ]  # fmt: skip


def _red_in_box_model():
    net = RedInBoxNet((64, 64, 128, 128))
    names = [f"class {i}" for i in range(5)]
    spec = ModelSpec(
        "red_in_box", "planted-evidence test model", "test", 5, lambda: IMAGENET_GEOMETRY,
        "features", build=lambda: net, class_names=lambda: names,
    )  # fmt: skip
    return LoadedModel(spec, net, torch.device("cpu"), names)


def test_tuner_small_scale_writes_front_summary_and_a_usable_parameter_file(tmp_path):
    image = tmp_path / "red.png"
    Image.fromarray(red_patches_image((64, 64, 128, 128), (150, 150, 200, 200))).save(image)
    settings = TuneSettings(
        model="red_in_box",
        budget_minutes=1.0,  # the 8 candidates end the search well before that
        space=SearchSpace(
            num_samples=(20, 40),
            segmentations=(None, {"algo_type": "slic", "n_segments": 30, "start_label": 0}),
            top_labels=(1,),
            alphas=(1.0,),
            num_features=(100000,),
            mask_k=(3, 5),
        ),
        reference=ReferenceSettings(seeds=2, num_samples=100),
    )
    model = _red_in_box_model()
    outcome = tune(settings, [ImageSource("red", image)], tmp_path / "run", model=model)
    folder = outcome.folder
    trials = pd.read_csv(folder / "trials.csv")
    assert (trials["kind"] == "baseline").sum() == 2  # one row per mask K
    assert (trials["kind"] == "search").sum() >= 2
    assert trials.loc[trials["kind"] == "baseline", "num_samples"].iloc[0] == 1000
    assert trials["iou"].between(0, 1).all()
    front = pd.read_csv(folder / "pareto.csv")
    assert len(front) >= 1 and front["seconds"].is_monotonic_increasing
    assert front["iou"].is_monotonic_increasing
    summary = pd.read_csv(folder / "summary.csv")
    row = summary.iloc[0]
    assert row["key"] == "red" and row["trials"] >= 1
    if row["reason"].startswith("fastest"):
        assert row["chosen_iou"] >= 0.9 * row["baseline_iou"]
    assert (folder / "pareto.png").stat().st_size > 1000
    # The chosen file is a valid parameter file, ready for export.
    chosen = load_param_file(folder / "params.json")
    params, _ = chosen.params_for("red")
    assert params["num_samples"] in (20, 40, 1000)
    assert json.loads((folder / "params.json").read_text())["red"]
    # Resumable: the same settings do not search again.
    assert tune(settings, [ImageSource("red", image)], tmp_path / "run", model=model).skipped


def test_joint_choice_is_the_best_mean_iou_within_the_time_budget():
    from explainlab.lime.tune import choose_jointly

    def row(key, kind, iou, seconds, name, status="ok"):
        return {
            "key": key,
            "kind": kind,
            "status": status,
            "iou": iou,
            "seconds": seconds,
            "name": name,
        }

    rows = [
        # image a: cheap to explain well; image b: needs more samples to keep its IoU
        row("a", "baseline", 0.9, 10.0, "a-defaults"),
        row("a", "search", 0.9, 1.0, "a-fast"),
        row("a", "search", 0.3, 0.5, "a-poor"),
        row("b", "baseline", 0.8, 10.0, "b-defaults"),
        row("b", "search", 0.78, 4.0, "b-mid"),
        row("b", "search", 0.4, 1.0, "b-fast"),
        row("b", "search", 0.99, 0.1, "b-cut", status="cutoff"),  # failed runs never count
    ]
    settings = TuneSettings()  # budget: 0.3 x (10 + 10) = 6 s in all
    chosen = choose_jointly(pd.DataFrame(rows), settings)
    # Per image, 0.3 x 10 s would rule out b-mid (4 s); jointly, a-fast leaves room for it.
    assert [chosen[k][0]["name"] for k in ("a", "b")] == ["a-fast", "b-mid"]
    assert chosen["a"][1].startswith("joint")
    assert chosen["a"][1].endswith("x0.99 of the defaults' (target >= 0.9: met)")
    # Equal IoU: the faster set wins.
    rows.append(row("b", "search", 0.78, 3.0, "b-mid-faster"))
    assert choose_jointly(pd.DataFrame(rows), settings)["b"][0]["name"] == "b-mid-faster"
    # A budget nothing fits: each image's fastest finished candidate.
    tight = TuneSettings(time_ratio=0.05)  # 1 s in all
    chosen = choose_jointly(pd.DataFrame(rows), tight)
    assert [chosen[k][0]["name"] for k in ("a", "b")] == ["a-poor", "b-fast"]
    assert "fastest kept" in chosen["a"][1]
    assert chosen["a"][1].endswith("x0.41 of the defaults' (target >= 0.9: not met)")
    # A budget as large as the defaults: the best IoU wherever it is.
    loose = TuneSettings(time_ratio=1.0)
    chosen = choose_jointly(pd.DataFrame(rows), loose)
    assert [chosen[k][0]["name"] for k in ("a", "b")] == ["a-fast", "b-defaults"]
