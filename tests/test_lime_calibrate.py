"""The local scoreboard checked against the public one: Spearman's rho on hand-made tables
with known answers, the shipped submissions, the hypothesis the tuner takes, and the
calibrate command on two submissions and two images of the offline model."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from explainlab.assignment import cli as assignment_cli
from explainlab.assignment.agreement import agreement_table, best_hypothesis, spearman
from explainlab.assignment.calibrate import (
    hypothesis_sentence,
    latest_calibration,
    latest_path,
    tuning_hypothesis,
)
from explainlab.assignment.hypotheses import HYPOTHESES
from explainlab.assignment.settings import HYPOTHESIS_NAMES, CalibrationSettings
from explainlab.assignment.submissions import load_submissions, shipped_submissions
from explainlab.cli import build_parser, main
from explainlab.errors import ConfigError
from explainlab.images import MISSION_KEYS
from tuning import fixed_cost_model


def test_spearman_known_answers():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # 1 - 6*2/(4*15)
    # ties take their average rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert spearman([0.3, 5.0, 1.0, math.nan], [1, 3, 2, 100]) == pytest.approx(1.0)  # pairs kept
    assert math.isnan(spearman([1.0], [2.0])) and math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_agreement_per_hypothesis_and_the_best_one():
    server_iou, server_time = [0.33, 0.32, 0.31], [2.0, 3.0, 4.0]
    table = pd.DataFrame(
        {
            "hypothesis": ["crop"] * 3 + ["full"] * 3,
            "submission": ["a", "b", "c"] * 2,
            "local_iou": [0.5, 0.9, 0.7, 0.8, 0.6, 0.4],  # full ranks them as the grader
            "local_cost": [1.0, 2.0, 3.0, 3.0, 2.0, 1.0],
            "local_wall": [5.0, 1.0, 9.0] * 2,
            "mean_num_samples": [300, 500, 700] * 2,
            "server_iou": server_iou * 2,
            "server_seconds": server_time * 2,
        }
    )
    agreement = agreement_table(table).set_index("hypothesis")
    assert list(agreement.index) == ["crop", "full"] and (agreement["submissions"] == 3).all()
    assert agreement.loc["crop", "rho_iou"] == pytest.approx(-0.5)
    assert agreement.loc["full", "rho_iou"] == pytest.approx(1.0)
    assert agreement.loc["crop", "rho_cost"] == pytest.approx(1.0)
    assert agreement.loc["full", "rho_cost"] == pytest.approx(-1.0)
    assert agreement.loc["crop", "rho_wall"] == pytest.approx(0.5)
    assert agreement.loc["crop", "rho_samples"] == pytest.approx(1.0)
    assert best_hypothesis(agreement.reset_index()) == "full"
    # equal IoU agreement: the better time agreement decides
    tie = agreement.reset_index().assign(rho_iou=[0.5, 0.5])
    assert best_hypothesis(tie) == "crop"


def test_the_shipped_public_submissions():
    submissions = load_submissions()
    assert shipped_submissions().is_file() and len(submissions) == 7
    assert submissions[0].name == "ashishsubedi/TML25_A4_27"
    assert all(0.30 <= s.server_iou <= 0.34 and s.server_seconds > 1 for s in submissions)
    for submission in submissions:  # every image's parameters build
        for key in MISSION_KEYS:
            params, _ = submission.params.params_for(key)
            assert params["num_samples"] >= 200
    first = submissions[0].params
    assert first.params_for("kite")[0]["top_labels"] == 3  # per-image overrides apply
    assert first.params_for("goldfish")[0]["hide_color"] == (255, 255, 255)
    only = load_submissions(only=["Usaid-Bhirya/TML25_A4_7"])
    assert [s.name for s in only] == ["Usaid-Bhirya/TML25_A4_7"]
    with pytest.raises(ConfigError, match="no submission nobody/x"):
        load_submissions(only=["nobody/x"])


def test_a_bad_submissions_file_is_one_clear_error(tmp_path):
    path = tmp_path / "subs.json"
    path.write_text(json.dumps({"submissions": [{"repository": "a/b", "params": {}}]}))
    with pytest.raises(ConfigError, match="a/b"):
        load_submissions(path)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a submissions file"):
        load_submissions(path)


def test_the_hypotheses_the_settings_name_are_the_ones_defined():
    assert tuple(HYPOTHESES) == HYPOTHESIS_NAMES


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache of this test's own: the latest calibration it records must not reach other
    tests (the tuner's 'auto' reads it)."""
    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path / "cache"))


def test_the_tuner_takes_the_best_hypothesis_of_the_latest_calibration(own_cache):
    model = "calibration_test_model"
    none = tuning_hypothesis("auto", model)
    assert (
        none["name"] == "crop" and none["calibration"] is None and "no calibration" in none["why"]
    )
    record = {
        "model": model,
        "stand_in": True,
        "best": "full",
        "agreement": [
            {"hypothesis": "crop", "submissions": 7, "rho_iou": 0.57, "rho_cost": 0.9,
             "rho_wall": 0.5, "rho_samples": 0.96},
            {"hypothesis": "full", "submissions": 7, "rho_iou": 0.71, "rho_cost": 0.93,
             "rho_wall": 0.4, "rho_samples": 0.96},
        ],
    }  # fmt: skip
    latest_path(model).parent.mkdir(parents=True, exist_ok=True)
    latest_path(model).write_text(json.dumps(record))
    auto = tuning_hypothesis("auto", model)
    assert auto["name"] == "full" and auto["calibration"] == record
    sentence = hypothesis_sentence(auto)
    assert "rho 0.71 against the grader's IoU" in sentence and "stand-in" in sentence
    assert "7 public submissions" in sentence
    named = tuning_hypothesis("crop", model)  # the user's choice wins; its agreement is told
    assert named["name"] == "crop" and "rho 0.57" in hypothesis_sentence(named)


def test_calibrate_cli_defaults_are_the_settings_defaults():
    args = build_parser().parse_args(["lime", "calibrate"])
    assert assignment_cli.calibration_settings(args) == CalibrationSettings()


def test_calibrate_two_submissions_on_two_images_offline(
    tmp_path, lite0, capsys, mirror, own_cache
):
    subs = tmp_path / "subs.json"
    subs.write_text(
        json.dumps(
            {
                "submissions": [
                    {
                        "repository": "team/small",
                        "server_avg_iou": 0.31,
                        "server_avg_time_s": 1.5,
                        "params": {"defaults": {"num_samples": 16, "top_labels": 1,
                                                "batch_size": 16, "random_seed": 0}},
                    },
                    {
                        "repository": "team/slic",
                        "server_avg_iou": 0.33,
                        "server_avg_time_s": 2.5,
                        "params": {
                            "defaults": {"num_samples": 24, "top_labels": 1, "batch_size": 24,
                                         "hide_color": 0},
                            "kite": {"segmentation_fn": {"algo_type": "slic", "n_segments": 20,
                                                         "start_label": 0}},
                        },
                    },
                ]
            }
        )
    )  # fmt: skip
    costs = fixed_cost_model(lite0.name, segmentations=[
        {"algo_type": "slic", "n_segments": 20, "start_label": 0}
    ]).save(tmp_path / "costs.json")  # fmt: skip
    argv = [
        "lime", "calibrate", "--submissions", str(subs), "--images", "goldfish", "kite",
        "--model", "efficientnet_lite0", "--device", "cpu", "--reference-seeds", "1",
        "--reference-samples", "24", "--cost-model", str(costs), "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "run" / "lime_calibrate"
    per_image = pd.read_csv(folder / "per_image.csv")
    assert len(per_image) == 3 * 2 * 2  # hypotheses x submissions x images
    assert set(per_image["status"]) == {"ok"} and per_image["iou"].between(0, 1).all()
    # counted: on goldfish (both segment as lime does) 24 samples cost more than 16; on
    # kite the slic segmentation is the cheaper one
    cost = per_image.pivot_table("cost_seconds", ["key", "hypothesis"], "submission")
    assert (cost.loc["goldfish", "team/slic"] > cost.loc["goldfish", "team/small"]).all()
    assert (cost.loc["kite", "team/slic"] < cost.loc["kite", "team/small"]).all()
    agreement = pd.read_csv(folder / "agreement.csv")
    assert list(agreement["hypothesis"]) == ["crop", "full", "gradcam"]
    # crop and gradcam perturb the same crop: one set of runs, two truths
    by = per_image.set_index(["hypothesis", "key", "submission"]).sort_index()
    crop, gradcam = by.loc["crop"], by.loc["gradcam"]
    assert (crop["wall_seconds"] == gradcam["wall_seconds"]).all()
    assert (crop["label"] == gradcam["label"]).all()
    assert not np.allclose(crop["iou"], gradcam["iou"])
    assert (agreement["submissions"] == 2).all()
    # two submissions: rho is +-1 (or none, on a tie)
    assert np.allclose(agreement["rho_samples"], 1.0)
    assert np.allclose(agreement[["rho_iou", "rho_cost"]].stack().abs(), 1.0)
    record = json.loads((folder / "calibration.json").read_text())
    assert record["best"] in HYPOTHESIS_NAMES and record["stand_in"] is True
    assert latest_calibration(lite0.name)["best"] == record["best"]
    assert "best agreement:" in out and "stands in for the grader's resnet50" in out
    # the same settings again: up to date
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().out
