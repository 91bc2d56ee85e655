"""The tuner: counted cost (known answers), the safe choice on hand-made trial tables, and
small searches on the planted-evidence model: every image searched whatever the budget,
the same choice with and without a CPU hog, resumable."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from explainlab.assignment.cost import Work, explain_work, model_calls, regression_work
from explainlab.assignment.settings import ReferenceSettings, SearchSpace, TuneSettings
from explainlab.assignment.tune import choose, tune
from explainlab.assignment.tune.space import DEFAULT_GROUP, groups, members
from explainlab.lime.params import load_param_file
from tuning import fixed_cost_model, red_in_box_model, red_sources

# --- counted cost ----------------------------------------------------------------------


def test_model_calls_follow_the_batches_and_the_classifier_chunks():
    assert model_calls(25, 10, 64) == ((5, 1), (10, 2))
    assert model_calls(100, 100, 64) == ((36, 1), (64, 1))
    assert model_calls(250, 100, 64) == ((36, 2), (50, 1), (64, 2))
    assert model_calls(130, 100, 0) == ((30, 1), (100, 1))  # a plain function: whole batches


def test_regression_work_counts_lime_feature_selection():
    # > 6 features asked: one Ridge fit ranks them, then fit + score on the kept ones
    assert regression_work(rows=10, features=3, num_features=100000, labels=2) == (6, 180)
    # <= 6: forward selection, one fit and one score per remaining feature per step
    fits, cells = regression_work(rows=10, features=3, num_features=2, labels=1)
    assert (fits, cells) == (6 + 4 + 2, 60 + 80 + 40)


def test_explain_work_and_its_price_are_known_answers():
    data = np.array([[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0]])  # 6 hidden superpixels
    params = {
        "segmentation_fn": None,
        "hide_color": 0,
        "num_features": 100000,
        "top_labels": 1,
        "labels": (1,),
        "batch_size": 2,
    }
    work = explain_work(params, pixels=100, data=data, classes=5, chunk=64)
    assert work == Work(
        pixels=100,
        segmentation="default",
        rows=3,
        hidden=6,
        chunks=((1, 1), (2, 1)),
        fits=3,
        fit_cells=3 * 4 + 2 * 3 * 4,
    )
    assert work.images == 3
    cost = fixed_cost_model()  # 64x64 images: per-pixel rates of a 4096-pixel image
    seconds = cost.breakdown(work, "lime")
    px = 100 / 4096
    assert seconds["segmentation"] == pytest.approx(0.1 * px)
    assert seconds["perturbation"] == pytest.approx(px * (3 * 0.001 + 6 * 0.00002))
    assert seconds["model"] == pytest.approx(2 * 0.002 + 3 * 0.01)  # calls of 1 and of 2
    assert seconds["regression"] == pytest.approx(3 * 0.001)
    # the mean-colour hide adds lime's fudged image: one more row of every superpixel
    mean = explain_work(params | {"hide_color": None}, pixels=100, data=data, classes=5, chunk=64)
    assert (mean.rows, mean.hidden) == (4, 10)


# --- the safe choice ------------------------------------------------------------------


def _row(key, kind, iou, cost, name, status="ok"):
    return {
        "key": key,
        "kind": kind,
        "status": status,
        "iou": iou,
        "cost_seconds": cost,
        "wall_seconds": 99.0,  # never looked at
        "mask_k": 5,
        "group": "g",
        "num_samples": 100,
        "name": name,
        "params": json.dumps({"name": name}),
    }


def _trials(rows) -> pd.DataFrame:
    return pd.DataFrame([_row(*r) for r in rows])


ROWS = [
    # image a: cheap to explain well; image b: needs more samples to keep its IoU
    ("a", "baseline", 0.9, 10.0, "a-defaults"),
    ("a", "search", 0.9, 1.0, "a-fast"),
    ("a", "search", 0.3, 0.5, "a-poor"),  # below half of a's defaults' IoU: never chosen
    ("b", "baseline", 0.8, 10.0, "b-defaults"),
    ("b", "search", 0.78, 4.0, "b-mid"),
    ("b", "search", 0.45, 1.0, "b-fast"),
    ("b", "search", 0.99, 0.1, "b-cut", "not measured"),  # not measured: never counts
    ("b", "search", math.nan, 0.1, "b-nan"),
]


def _names(choice) -> list[str]:
    return [choice.picked[k]["name"] for k in ("a", "b")]


def test_the_best_mean_iou_within_the_time_target_jointly():
    choice = choose(_trials(ROWS), TuneSettings())  # budget 0.3 x (10 + 10) = 6
    # per image, 0.3 x 10 would rule out b-mid (4); jointly, a-fast leaves room for it
    assert _names(choice) == ["a-fast", "b-mid"]
    assert choice.met and choice.verdict.startswith("target met: mean IoU x0.99")
    assert choice.reasons["b"].endswith("IoU x0.97, cost x0.40 of the defaults'")
    # equal IoU: the cheaper set wins
    faster = _trials([*ROWS, ("b", "search", 0.78, 3.0, "b-mid-faster")])
    assert _names(choose(faster, TuneSettings())) == ["a-fast", "b-mid-faster"]


def test_an_infeasible_time_target_relaxes_the_time_never_the_iou():
    tight = TuneSettings(time_ratio=0.05)  # 1 s in all: only a-poor + b-fast would fit
    choice = choose(_trials(ROWS), tight)
    assert _names(choice) == ["a-fast", "b-mid"]  # the cheapest set keeping 0.9 x the IoU
    assert choice.iou_met and not choice.time_met and choice.iou_kept >= 0.9
    assert choice.verdict.startswith("time target missed: the cheapest choice keeping")
    assert "x0.25 of their cost (target <= 0.05)" in choice.verdict
    # a stricter IoU target: lime's defaults stay where nothing cheaper keeps it
    strict = choose(_trials(ROWS), TuneSettings(time_ratio=0.05, iou_ratio=0.99))
    assert _names(strict) == ["a-fast", "b-defaults"]
    assert strict.reasons["b"] == "lime's defaults kept: the joint choice needs their IoU"


def test_the_image_floor_holds_unless_the_user_lifts_it():
    # a budget in which a-poor + b-fast would be the best sum: the floor forbids a-poor
    rows = [*ROWS, ("b", "search", 0.79, 0.2, "b-cheap")]
    assert _names(choose(_trials(rows), TuneSettings(iou_ratio=0.5))) == ["a-fast", "b-cheap"]
    no_floor = TuneSettings(iou_ratio=0.5, time_ratio=0.035, image_floor=0.0)
    assert _names(choose(_trials(rows), no_floor)) == ["a-poor", "b-cheap"]
    with_floor = TuneSettings(iou_ratio=0.5, time_ratio=0.035)
    chosen = choose(_trials(rows), with_floor)
    assert chosen.picked["a"]["iou"] >= 0.5 * 0.9 and not chosen.time_met


def test_defaults_are_kept_where_no_candidate_keeps_the_floor():
    rows = [
        ("a", "baseline", 0.9, 10.0, "a-defaults"),
        ("a", "search", 0.2, 1.0, "a-poor"),
        ("a", "search", 0.9, 1.0, "a-failed", "failed"),
        ("b", "baseline", 0.8, 10.0, "b-defaults"),
        ("b", "search", 0.8, 1.0, "b-fast"),
    ]
    choice = choose(_trials(rows), TuneSettings())
    assert _names(choice) == ["a-defaults", "b-fast"]
    assert choice.reasons["a"] == "lime's defaults kept: no candidate kept 0.5 x their IoU"


def test_wall_times_never_change_the_choice():
    busy = _trials(ROWS).assign(wall_seconds=np.random.default_rng(0).uniform(0, 100, len(ROWS)))
    assert _names(choose(busy, TuneSettings())) == _names(choose(_trials(ROWS), TuneSettings()))


# --- the search -------------------------------------------------------------------------

SPACE = SearchSpace(
    num_samples=(20, 40),
    segmentations=(None, {"algo_type": "slic", "n_segments": 12, "start_label": 0}),
    hide_colors=(None, 0),
    top_labels=(1,),
    alphas=(1.0,),
    num_features=(100000,),
    mask_k=(3, 5),
)


def _settings(tmp_path, budget_minutes: float) -> TuneSettings:
    cost_model = fixed_cost_model(segmentations=SPACE.segmentations)
    cost_model.save(tmp_path / "cost_model.json")
    return TuneSettings(
        model="red_in_box",
        budget_minutes=budget_minutes,
        hypothesis="crop",
        cost_model=str(tmp_path / "cost_model.json"),
        space=SPACE,
        reference=ReferenceSettings(seeds=2, num_samples=100),
    )


def test_groups_and_members_of_the_space():
    order = groups(SPACE, seed=0)
    assert order[0] == DEFAULT_GROUP and order[1] == (None, 0) and len(order) == 4
    ladder = members(SPACE, DEFAULT_GROUP, seed=0)
    assert [c["num_samples"] for c in ladder] == [20, 20, 40, 40]  # ladder + space members
    assert {c["random_seed"] for c in ladder} == {0}
    assert [c["num_samples"] for c in members(SPACE, (None, 0), 0, max_samples=20)] == [20]


def test_every_image_is_searched_whatever_the_budget(tmp_path):
    model, sources = red_in_box_model(), red_sources(tmp_path, 2)
    tiny = tune(_settings(tmp_path, 1e-5), sources, tmp_path / "tiny", model=model)
    trials = pd.read_csv(tiny.folder / "trials.csv")
    for key in ("red0", "red1"):
        own = trials[trials["key"] == key]
        assert (own["kind"] == "baseline").sum() == 2  # one row per mask K
        assert own.loc[own["kind"] == "baseline", "num_samples"].iloc[0] == 1000
        ladder = own[(own["kind"] == "search") & (own["top_labels"] == 5)]
        assert sorted(set(ladder["num_samples"])) == [20, 40]  # lime's defaults, fewer samples
        assert own["iou"].between(0, 1).all() and (own["cost_seconds"] > 0).all()
        search = json.loads((tiny.folder / key / "search.json").read_text())
        assert search["spent"] == 0.0 and len(search["groups"]) == 1
    summary = pd.read_csv(tiny.folder / "summary.csv")
    assert list(summary["key"]) == ["red0", "red1"] and (summary["trials"] >= 4).all()
    assert summary["reason"].str.len().gt(10).all()
    # a larger budget: every image gets the same further groups, within its share
    larger = tune(_settings(tmp_path, 0.05), sources, tmp_path / "larger", model=model)
    searched = [
        json.loads((larger.folder / k / "search.json").read_text()) for k in ("red0", "red1")
    ]
    assert all(len(s["groups"]) == 4 for s in searched)
    assert sum(s["spent"] for s in searched) <= 60 * 0.05
    assert larger.choice["verdict"] and (larger.folder / "pareto.png").stat().st_size > 1000
    chosen = load_param_file(larger.folder / "params.json")
    assert chosen.params_for("red0")[0]["num_samples"] in (20, 40, 1000)
    # resumable: the same settings do not search again
    assert tune(_settings(tmp_path, 0.05), sources, tmp_path / "larger", model=model).skipped


def test_the_choice_is_the_same_with_and_without_a_cpu_hog(tmp_path):
    model, sources = red_in_box_model(), red_sources(tmp_path, 2)
    settings = _settings(tmp_path, 0.01)  # binding: not every group fits
    quiet = tune(settings, sources, tmp_path / "quiet", model=model)
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        busy = tune(settings, sources, tmp_path / "busy", model=model)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    searched = json.loads((quiet.folder / "red0" / "search.json").read_text())["groups"]
    assert 1 < len(searched) < len(groups(SPACE, 0))  # the budget decided something
    assert (quiet.folder / "params.json").read_text() == (busy.folder / "params.json").read_text()
    same = ["key", "params", "mask_k", "iou", "cost_seconds"]
    pd.testing.assert_frame_equal(
        pd.read_csv(quiet.folder / "trials.csv")[same],
        pd.read_csv(busy.folder / "trials.csv")[same],
    )
    assert quiet.choice == busy.choice
