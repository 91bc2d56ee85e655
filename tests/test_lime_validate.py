"""The parameter pickle: export, and validation that never trusts the file."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
from lime.wrappers.scikit_image import SegmentationAlgorithm
from sklearn.linear_model import Ridge

from explainlab.assignment import safepickle
from explainlab.assignment.export import write_export
from explainlab.assignment.validate import validate_file
from explainlab.cli import main
from explainlab.images import MISSION_KEYS
from explainlab.lime.params import ParamFile, complete, errors, load_param_file


def _small_params(**extra):
    return complete({"num_samples": 40, "batch_size": 20, "random_seed": 0, **extra})


def _write(tmp_path, obj, name="params.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def _ten(**extra):
    return {k: _small_params(**extra) for k in MISSION_KEYS}


def _messages(problems):
    return "\n".join(str(p) for p in errors(problems))


def test_export_then_validate_round_trip(tmp_path):
    param_file = tmp_path / "p.toml"
    param_file.write_text(
        """
[defaults]
num_samples = 30
batch_size = 15
[goldfish]
hide_color = 0
segmentation_fn = { algo_type = "slic", n_segments = 20, start_label = 0 }
model_regressor = { class = "Ridge", alpha = 0.1 }
mask_num_features = 4
"""
    )
    export = write_export(load_param_file(param_file), tmp_path / "lime_params.pkl", seed=0)
    assert any("mask_num_features" in note for note in export.notes)
    obj, problems = validate_file(export.pickle_path)
    assert not errors(problems), _messages(problems)
    assert list(obj) == list(MISSION_KEYS)  # exact keys, DESIGN.md's order
    assert set(obj["goldfish"]) == set(complete({}))  # no image, classifier_fn, mask K
    assert isinstance(obj["goldfish"]["segmentation_fn"], SegmentationAlgorithm)
    assert obj["orange"]["num_samples"] == 30 and obj["orange"]["random_seed"] == 0
    # Only allowed globals, nothing from explainlab.
    referenced = {m for m, _ in safepickle.referenced_globals(export.pickle_path.read_bytes())}
    assert not any(m.startswith("explainlab") for m in referenced)
    # The JSON twin is the same parameters, and is itself a usable parameter file.
    twin = json.loads(export.json_path.read_text())
    assert list(twin) == list(MISSION_KEYS)
    assert twin["goldfish"]["model_regressor"] == {"class": "Ridge", "alpha": 0.1}
    again = write_export(load_param_file(export.json_path), tmp_path / "again.pkl")
    assert again.json_path.read_text() == export.json_path.read_text()


def test_the_grader_can_load_and_run_the_pickle_without_explainlab(tmp_path):
    export = write_export(ParamFile({"num_samples": 20, "batch_size": 20}, {}), tmp_path / "p.pkl")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["explainlab"] = None  # any import of explainlab now fails
        import pickle
        import numpy as np
        from lime import lime_image
        params = pickle.load(open({str(export.pickle_path)!r}, "rb"))
        image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
        def classifier_fn(batch):
            p = batch.mean(axis=(1, 2)) / 255.0
            return p / p.sum(axis=1, keepdims=True)
        explainer = lime_image.LimeImageExplainer(random_state=0)
        explanation = explainer.explain_instance(image, classifier_fn, **params["goldfish"])
        print(len(params), sorted(int(k) for k in explanation.local_exp))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("10 [0, 1, 2]")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("orange"), ["9 keys", "missing key 'orange'"]),
        (lambda d: d.update(extra=d["orange"]), ["11 keys", "unexpected key 'extra'"]),
        (
            lambda d: d.update(Goldfish=d.pop("goldfish")),
            [
                "unexpected key 'Goldfish' (wrong case: the key is 'goldfish')",
                "missing key 'goldfish'",
            ],
        ),
        (lambda d: d["kite"].update(image=None), ["kite: image: must not be in the parameters"]),
        (
            lambda d: d["kite"].update(classifier_fn=None),
            ["kite: classifier_fn: must not be in the parameters"],
        ),
        (
            lambda d: d["racer"].update(labels=None, top_labels=None),
            ["racer: labels: with top_labels=None", "'NoneType' object is not iterable"],
        ),
        (
            lambda d: d["racer"].update(progress_bar="off"),
            ["racer: progress_bar: must be True or False"],
        ),
    ],
    ids=[
        "missing key",
        "eleventh key",
        "wrong case",
        "image",
        "classifier_fn",
        "labels None without top_labels",
        "progress_bar not a bool",
    ],
)
def test_validate_refuses(tmp_path, mutate, expected):
    params = _ten()
    mutate(params)
    _, problems = validate_file(_write(tmp_path, params), run=False)
    text = _messages(problems)
    for fragment in expected:
        assert fragment in text, text


def test_every_problem_is_listed_and_the_dry_run_finds_what_static_checks_cannot(tmp_path):
    params = _ten()
    params.pop("vulture")
    params["tiger_shark"].update(labels=None, top_labels=None)
    params["flamingo"]["num_samples"] = 0
    params["goldfish"]["model_regressor"] = Ridge(solver="bogus")  # only fit() rejects it
    _, problems = validate_file(_write(tmp_path, params))
    text = _messages(problems)
    assert "missing key 'vulture'" in text
    assert "tiger_shark: labels" in text
    assert "flamingo: num_samples: must be an integer >= 1" in text
    assert "goldfish: explain_instance failed" in text and "solver" in text
    assert len(errors(problems)) == 5  # 9 keys, missing vulture, and the three above


class Hostile:
    """Unpickling this runs a shell command (the classic pickle attack)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_hostile_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    params = _ten()
    params["goldfish"]["segmentation_fn"] = Hostile(marker)
    path = _write(tmp_path, params)
    obj, problems = validate_file(path)
    assert obj is None
    assert "system (could run commands or change files)" in _messages(problems)
    # Even bypassing the opcode scan, the restricted unpickler refuses before calling.
    with open(path, "rb") as f, pytest.raises(safepickle.RefusedGlobal):
        safepickle.RestrictedUnpickler(f).load()
    assert not marker.exists()
    # A plain pickle.load would have run it: the test's pickle is really hostile.
    pickle.loads(path.read_bytes())
    assert marker.exists()


def module_level_segmenter(image):
    return image[..., 0] // 64


_lambda = lambda image: image[..., 0] // 64  # noqa: E731
_lambda.__qualname__ = "_lambda"  # so that pickle can store it by reference


@pytest.mark.parametrize("function", [module_level_segmenter, _lambda], ids=["function", "lambda"])
def test_functions_and_lambdas_are_refused(tmp_path, function):
    params = _ten()
    params["orange"]["segmentation_fn"] = function
    obj, problems = validate_file(_write(tmp_path, params), run=False)
    assert obj is None and "outside the allow-list" in _messages(problems)
    # The same dict in memory (e.g. before export) is refused by the parameter checks.
    from explainlab.assignment.validate import validate_object

    text = _messages(validate_object(params, "in memory", run=False))
    assert "orange: segmentation_fn" in text and "lambdas and local functions" in text


def test_a_lambda_pickled_by_value_is_refused(tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")
    params = _ten()
    params["orange"]["segmentation_fn"] = lambda image: image[..., 0] // 64
    path = tmp_path / "p.pkl"
    path.write_bytes(cloudpickle.dumps(params))
    obj, problems = validate_file(path, run=False)
    assert obj is None and "cloudpickle" in _messages(problems)


def test_garbage_and_non_dict_pickles(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle")
    assert "not a valid pickle" in _messages(validate_file(junk)[1])
    assert "not a dict" in _messages(validate_file(_write(tmp_path, [1, 2]))[1])
    assert "no such file" in _messages(validate_file(tmp_path / "none.pkl")[1])


def test_validate_and_export_commands(tmp_path, capsys):
    good = _write(tmp_path, _ten(), "good.pkl")
    assert main(["lime", "validate", str(good), "--no-dry-run"]) == 0
    assert "valid" in capsys.readouterr().out
    bad = _ten()
    bad["kite"].update(labels=None, top_labels=None)
    assert main(["lime", "validate", str(_write(tmp_path, bad, "bad.pkl"))]) == 2
    out = capsys.readouterr().out
    assert "INVALID" in out and "kite: labels" in out
    spec = tmp_path / "p.toml"
    spec.write_text("[defaults]\nnum_samples = 20\nbatch_size = 20\n")
    out_pkl = tmp_path / "export" / "lime_params.pkl"
    assert main(["lime", "export", "--params", str(spec), "--output", str(out_pkl)]) == 0
    assert out_pkl.is_file() and out_pkl.with_suffix(".json").is_file()
