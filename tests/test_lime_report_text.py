"""Report 3's sentences about the scoreboard and the tuner, from hand-made tables: the
counted cost, the hypothesis and its agreement, and a missed target in one sentence."""

from __future__ import annotations

import pandas as pd

from explainlab.report.lime_report import agreement_rows, scoreboard_text, verdict_sentence


def _board(iou, cost, wall, hypothesis="crop"):
    return pd.DataFrame(
        {
            "key": ["a", "b"],
            "iou": iou,
            "cost_seconds": cost,
            "seconds": wall,
            "mask_k": [5, 5],
            "hypothesis": [hypothesis] * 2,
        }
    )


def test_the_scoreboard_judges_the_target_on_counted_cost_not_wall_time():
    run = _board([0.9, 0.7], [1.0, 2.0], [30.0, 60.0], "full")  # a busy machine's wall time
    defaults = _board([1.0, 0.8], [10.0, 10.0], [10.0, 10.0])
    text = scoreboard_text(run, defaults, 0, (0.9, 0.3))
    assert "the image file at its own size (reference hypothesis full)" in text
    assert "keeps 89% of the defaults' IoU at 15% of their cost" in text
    assert "is not met on this run" in text  # 89% < 90%, whatever the wall time says
    assert "is met" in scoreboard_text(run, defaults, 0, (0.85, 0.3))


def test_a_missed_target_is_one_sentence_naming_the_target():
    missed = {
        "verdict": "time target missed: the cheapest choice keeping the mean IoU at >= 0.9 x "
        "lime's defaults' costs x0.41 of their cost (target <= 0.3), mean IoU x0.90",
        "met": False,
        "iou_met": True,
    }
    sentence = verdict_sentence(missed)
    assert sentence.startswith("The tuner's choice misses its time target: the cheapest")
    assert sentence.endswith("mean IoU x0.90.") and "\n" not in sentence
    met = {"verdict": "target met: mean IoU x0.95 ...", "met": True, "iou_met": True}
    assert verdict_sentence(met).startswith("The tuner's choice meets its target: mean IoU")


def test_the_agreement_table_marks_the_hypothesis_used():
    hypothesis = {
        "name": "full",
        "calibration": {
            "agreement": [
                {"hypothesis": "crop", "submissions": 7, "rho_iou": 0.571, "rho_cost": 0.9,
                 "rho_wall": 0.5, "rho_samples": 0.96},
                {"hypothesis": "full", "submissions": 7, "rho_iou": 0.75, "rho_cost": None,
                 "rho_wall": 0.4, "rho_samples": 0.96},
            ]
        },
    }  # fmt: skip
    rows = agreement_rows(hypothesis)
    assert rows[0] == ["crop", "7", "0.57", "0.90", "0.50", "0.96"]
    assert rows[1][:3] == ["full (used)", "7", "0.75"] and rows[1][3] == "n/a"
    assert agreement_rows({"name": "crop", "calibration": None}) == []
