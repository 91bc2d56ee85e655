"""Parameter files: readable form <-> objects, defaults and overrides, every problem listed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lime.wrappers.scikit_image import SegmentationAlgorithm
from sklearn.linear_model import Lasso, Ridge

from explainlab.errors import ConfigError
from explainlab.lime.params import (
    ParamFile,
    check_params,
    complete,
    errors,
    explain_defaults,
    from_readable,
    load_param_file,
    to_readable,
)


def test_explain_defaults_are_the_installed_lime_signature():
    defaults = explain_defaults()
    assert list(defaults) == [
        "labels", "hide_color", "top_labels", "num_features", "num_samples", "batch_size",
        "segmentation_fn", "distance_metric", "model_regressor", "random_seed",
    ]  # fmt: skip
    assert defaults["num_samples"] == 1000 and defaults["top_labels"] == 5
    assert "progress_bar" not in defaults


def test_toml_defaults_and_per_image_overrides(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        """
[defaults]
num_samples = 200
hide_color = 0
segmentation_fn = { algo_type = "slic", n_segments = 40, start_label = 0 }

[goldfish]
num_samples = 80
top_labels = "none"
labels = [1]
model_regressor = { class = "Ridge", alpha = 0.5 }
segmentation_fn = { algo_type = "felzenszwalb", scale = 150 }
mask_num_features = 3
"""
    )
    pf = load_param_file(path)
    params, k = pf.params_for("goldfish", seed=4)
    assert list(params) == list(explain_defaults())
    assert params["num_samples"] == 80 and params["top_labels"] is None and params["labels"] == (1,)
    assert params["hide_color"] == 0 and params["random_seed"] == 4 and k == 3
    seg = params["segmentation_fn"]
    assert isinstance(seg, SegmentationAlgorithm) and seg.algo_type == "felzenszwalb"
    assert seg.target_params == {"scale": 150}  # replaced, not merged with the default's
    assert isinstance(params["model_regressor"], Ridge) and params["model_regressor"].alpha == 0.5
    other, k = pf.params_for("orange", seed=None)
    assert other["num_samples"] == 200 and other["random_seed"] is None and k is None
    assert other["segmentation_fn"].target_params == {"n_segments": 40, "start_label": 0}
    # Fresh objects every time: lime fits the regressor in place.
    assert pf.params_for("goldfish")[0]["model_regressor"] is not params["model_regressor"]


def test_readable_round_trip_is_json_and_rebuilds_equal_objects():
    params = complete(
        {
            "hide_color": (0, 10, 255),
            "labels": (3, np.int64(7)),
            "segmentation_fn": SegmentationAlgorithm("quickshift", kernel_size=6, max_dist=100),
            "model_regressor": Lasso(alpha=0.01),
            "random_seed": np.int64(5),
        }
    )
    readable = json.loads(json.dumps(to_readable(params)))
    assert readable["segmentation_fn"] == {
        "algo_type": "quickshift",
        "kernel_size": 6,
        "max_dist": 100,
    }
    assert readable["model_regressor"] == {"class": "Lasso", "alpha": 0.01}
    rebuilt, problems = from_readable(readable, "x")
    assert not errors(problems)
    assert to_readable(rebuilt) == readable
    assert rebuilt["hide_color"] == (0, 10, 255) and rebuilt["labels"] == (3, 7)


def test_every_problem_of_every_table_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "defaults": {"num_smaples": 10, "progress_bar": "no"},
                "goldfish": {
                    "num_samples": 0,
                    "hide_color": 300,
                    "distance_metric": "cosin",
                    "segmentation_fn": {"algo_type": "slic", "n_segment": 5},
                    "model_regressor": {"class": "RandomForestRegressor"},
                    "image": [[0]],
                },
            }
        )
    )
    with pytest.raises(ConfigError) as info:
        load_param_file(path)
    text = str(info.value)
    for expected in (
        "num_smaples", "did you mean 'num_samples'", "progress_bar: must be True or False",
        "num_samples: must be an integer >= 1", "hide_color", "did you mean 'cosine'",
        "slic takes no parameter(s) n_segment", "RandomForestRegressor",
        "image: must not be in the parameters",
    ):  # fmt: skip
        assert expected in text, expected
    assert "8 problem(s)" in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"labels": [], "top_labels": None}, "non-empty list"),
        ({"labels": "1", "top_labels": None}, "list of class indices"),
        ({"labels": None, "top_labels": None}, "'NoneType' object is not iterable"),
        ({"labels": (1500,), "top_labels": 0}, "class indices in [0, 1000)"),
        ({"top_labels": 2.5}, "None or an integer"),
        ({"progress_bar": 1}, "must be True or False"),
        ({"batch_size": 2.5}, "integer >= 1"),
        ({"num_features": -1}, "integer >= 1"),
        ({"hide_color": (1, 2)}, "3 numbers"),
        ({"random_seed": -3}, "[0, 2**32)"),
        ({"distance_metric": len}, "cannot be pickled"),
        ({"segmentation_fn": lambda image: image[..., 0]}, "a lambda is not allowed"),
        ({"model_regressor": Ridge(alpha=-1.0)}, "alpha must be a number >= 0"),
        ({"classifier_fn": print}, "must not be in the parameters"),
    ],
)
def test_check_params_refuses(params, message):
    found = errors(check_params(params, "img"))
    assert found and message in str(found[0]), found


def test_warnings_are_not_errors():
    problems = check_params(
        {
            "random_seed": None,
            "top_labels": None,
            "segmentation_fn": SegmentationAlgorithm("slic", n_segments=10),
        },
        "img",
    )
    assert not errors(problems)
    text = " ".join(p.message for p in problems)
    assert "not reproducible" in text and "start_label=0" in text and "only the classes" in text


def test_a_missing_or_wrong_kind_of_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_param_file(tmp_path / "nope.toml")
    (tmp_path / "p.pkl").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"\.toml or \.json"):
        load_param_file(tmp_path / "p.pkl")
    (tmp_path / "p.toml").write_text("num_samples = 3\n")
    with pytest.raises(ConfigError, match="must be tables"):
        load_param_file(tmp_path / "p.toml")
    assert load_param_file("") == ParamFile()
