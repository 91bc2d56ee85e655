"""Report 3's findings from hand-made tables: planted numbers give the expected finding,
the opposite numbers the opposite one (or the 'not supported' one); and the derived
tables they read (explainlab.assignment.summary)."""

from __future__ import annotations

import math

import pandas as pd

from explainlab.assignment import summary
from explainlab.assignment.report.lime_findings import (
    LimeFindings,
    LimeNumbers,
    findings,
    hypothesis_finding,
    misclassified_finding,
    noise_finding,
    pickle_finding,
    tuner_missed,
)
from explainlab.assignment.report.lime_report import agreement_rows

TARGETS = {"iou_ratio": 0.9, "time_ratio": 0.3, "image_floor": 0.5}


def _explanations(labels=(1, 21), true=(1, 21), samples=(50, 1000), segments=(40, 60)):
    return pd.DataFrame(
        {
            "key": ["goldfish", "kite"],
            "label": list(labels),
            "label_name": ["goldfish", "kite" if labels[1] == 21 else "vulture"],
            "true_id": list(true),
            "num_segments": list(segments),
            "num_samples": list(samples),
        }
    )


def _board(iou, cost, wall=(1.0, 1.0)):
    return pd.DataFrame(
        {"key": ["goldfish", "kite"], "iou": iou, "cost_seconds": cost, "seconds": list(wall)}
    )


def _tuned(
    baseline_iou=(0.85, 0.65),
    ratios=(0.95, 1.0),
    chosen=("search", "defaults"),
    spread=((0.8, 0.9), (0.6, 0.7)),
):
    return pd.DataFrame(
        {
            "key": ["goldfish", "kite"],
            "baseline_iou": list(baseline_iou),
            "baseline_iou_min": [low for low, _ in spread],
            "baseline_iou_max": [high for _, high in spread],
            "iou_ratio": list(ratios),
            "chosen": list(chosen),
        }
    )


def _numbers(**changes) -> LimeNumbers:
    run, defaults = _board([0.76, 0.7], [5.0, 45.0]), _board([0.8, 0.7], [45.0, 45.0])
    tuned = _tuned()
    noise = summary.noise_summary(summary.seed_noise(tuned, 2))
    base = {
        "images": summary.image_table(_explanations()),
        "board": summary.board_summary(run, defaults),
        "noise": noise,
        "choice": {"met": True, "iou_met": True, "iou_kept": 0.97, "cost_kept": 0.55},
        "tuned": tuned,
        "targets": TARGETS,
        "hypothesis": {"name": "crop", "calibration": None},
    }
    return LimeNumbers(**(base | changes))


def test_the_derived_tables():
    images = summary.image_table(_explanations(labels=(1, 23)))
    assert list(images["correct"]) == ["True", "False"]
    board = summary.board_summary(_board([0.6, 0.8], [5.0, 15.0]), _board([0.8, 0.8], [20.0, 20.0]))
    assert math.isclose(board["cost_ratio"], 0.5) and math.isclose(board["iou_ratio"], 0.875)
    assert math.isclose(board["iou_difference"], -0.1)
    # the noise: lime's defaults at the tuner's lowest and highest seed
    noise = summary.seed_noise(_tuned(spread=((0.8, 0.9), (0.4, 0.7))), 2)
    assert list(noise["difference"].round(6)) == [0.1, 0.3]
    assert math.isclose(summary.noise_summary(noise)["max_difference"], 0.3)
    assert summary.seed_noise(None, 2).empty
    assert summary.seed_noise(_tuned(), 1).empty  # one seed: no spread to measure
    assert summary.seed_noise(_tuned().drop(columns="baseline_iou_max"), 2).empty  # older run
    half = summary.seed_noise(_tuned(spread=((0.8, 0.9), (math.nan, math.nan))), 2)
    assert list(half["key"]) == ["goldfish"]
    assert summary.noise_summary(summary.seed_noise(None, 2))["images"] == 0


def test_the_pickle_finding_states_the_ratio_and_why():
    kept = pickle_finding(_numbers())
    assert "num_samples 50 on 1 image, 1000 on 1 image" in kept.claim
    assert "×0.56 of lime's defaults' counted cost, ×0.97 of their mean IoU" in kept.claim
    assert "one forward pass per sample" in kept.reason and "a few dozen" in kept.reason
    run, defaults = _board([0.4, 0.5], [5.0, 5.0]), _board([0.8, 0.7], [45.0, 45.0])
    lost = pickle_finding(_numbers(board=summary.board_summary(run, defaults)))
    assert "×0.60 of their mean IoU" in lost.claim and "left to chance" in lost.reason
    unmeasured = summary.board_summary(run, _board([math.nan, math.nan], [math.nan, math.nan]))
    assert unmeasured["compared"] == 0 and unmeasured["unmeasured"] == 2
    tuner = pickle_finding(_numbers(board=unmeasured))  # the tuner's numbers instead
    assert "on the tuner's runs, ×0.55 of lime's defaults' counted cost" in tuner.claim
    assert "stopped 2 runs at its cutoff" in tuner.evidence
    assert "not measured" in pickle_finding(_numbers(board={}, choice={})).claim


def test_a_missed_target_is_on_page_one_with_its_numbers():
    assert tuner_missed(_numbers()) is None  # met
    time = {"met": False, "iou_met": True, "iou_kept": 0.97, "cost_kept": 0.55}
    missed = tuner_missed(_numbers(choice=time, tuned=_tuned(ratios=(0.45, 1.0))))
    assert "mean IoU ≥ 0.9 × lime's defaults'" in missed.target and "≤ 0.3" in missed.target
    assert "×0.97 of the defaults' mean IoU (lowest image ×0.45) at ×0.55" in missed.outcome
    assert "the time was relaxed, never the IoU" in missed.outcome
    assert "1 of 2 images keep lime's defaults" in missed.outcome
    iou = {"met": False, "iou_met": False, "iou_kept": 0.77, "cost_kept": 0.2}
    assert "no choice kept the IoU" in tuner_missed(_numbers(choice=iou)).outcome


def _calibrated(rho, submissions=7):
    rows = [{"hypothesis": "crop", "submissions": submissions, "rho_iou": rho}]
    return {"name": "crop", "calibration": {"agreement": rows}}


def test_the_hypothesis_is_unchecked_or_ranked():
    assert "unchecked" in hypothesis_finding(_numbers()).claim
    assert "ranks 7 public submissions' IoU well (Spearman ρ 0.80)" in (
        hypothesis_finding(_numbers(hypothesis=_calibrated(0.8))).evidence
    )
    assert "poorly" in hypothesis_finding(_numbers(hypothesis=_calibrated(0.3))).evidence
    few = hypothesis_finding(_numbers(hypothesis=_calibrated(0.9, 3))).evidence
    assert "too few" in few
    gradcam = hypothesis_finding(_numbers(hypothesis={"name": "gradcam", "calibration": None}))
    assert "the model's Grad-CAM region" in gradcam.claim


def test_a_difference_inside_the_seed_spread_is_not_claimed():
    inside = noise_finding(_numbers())  # mean IoU differs by 0.02, the seeds by 0.1
    assert "no difference in IoU is supported" in inside.claim
    assert "40–60 superpixels" in inside.evidence
    run, defaults = _board([0.2, 0.2], [5.0, 5.0]), _board([0.8, 0.7], [45.0, 45.0])
    beyond = noise_finding(_numbers(board=summary.board_summary(run, defaults)))
    assert "beyond the seed spread" in beyond.claim
    assert "not measured" in noise_finding(_numbers(noise={})).claim


def test_a_misclassified_image_is_named_with_its_wrong_class():
    wrong = _numbers(images=summary.image_table(_explanations(labels=(1, 23))))
    finding = misclassified_finding(wrong)
    assert "1 of 2 images are explained for a wrong class: kite as vulture" in finding.claim
    assert "evidence for the mistake" in finding.reason
    assert "Every image is explained for its true class" in misclassified_finding(_numbers()).claim
    unknown = summary.image_table(_explanations(true=(math.nan, math.nan)))
    assert misclassified_finding(_numbers(images=unknown)) is None
    assert 3 <= len(findings(_numbers())) <= 5


def test_the_agreement_table_marks_the_hypothesis_used():
    hypothesis = {
        "name": "full",
        "calibration": {
            "agreement": [
                {"hypothesis": "crop", "submissions": 7, "rho_iou": 0.571, "rho_cost": 0.9,
                 "rho_wall": 0.5, "rho_samples": 0.96},
                {"hypothesis": "full", "submissions": 7, "rho_iou": 0.75, "rho_cost": None,
                 "rho_wall": 0.4, "rho_samples": 0.96},
                {"hypothesis": "gradcam", "submissions": 7, "rho_iou": -0.25, "rho_cost": 0.9,
                 "rho_wall": 0.5, "rho_samples": 0.96},
            ]
        },
    }  # fmt: skip
    rows = agreement_rows(hypothesis)
    assert rows[0] == ["crop", "7", "0.57", "0.90", "0.50", "0.96"]
    assert rows[1][:3] == ["full (used)", "7", "0.75"] and rows[1][3] == "n/a"
    assert rows[2][:3] == ["gradcam", "7", "-0.25"]  # the Grad-CAM truth, beside the others
    assert agreement_rows({"name": "crop", "calibration": None}) == []


def test_summary_md_renders_the_record_report_3_prints():
    """One record: the text summary states its findings and missed target in its words."""
    time = {"met": False, "iou_met": True, "iou_kept": 0.95, "cost_kept": 0.6}
    numbers = _numbers(choice=time, tuned=_tuned(ratios=(0.45, 1.0)))
    record = LimeFindings.of(numbers)
    assert record.findings == tuple(findings(numbers))
    assert record.missed == (tuner_missed(numbers),)
    text = record.markdown()
    for item in (*record.missed, *record.findings):
        assert f"- {item.markdown()}" in text
    assert "<b>" not in text and "**Target not met:" in text
