"""Ctrl-C (SIGINT) and SIGTERM abandon the current item, keep the finished ones, say how
far the stage got and exit 130 / 143; the rerun's outputs equal an uninterrupted run's."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import explainlab_process

KEYS = ("goldfish", "kite")


def _lime(out: Path, params: Path) -> subprocess.Popen:
    argv = ["lime", "--model", "efficientnet_lite0", "--images", *KEYS, "--params", str(params),
            "--device", "cpu", "--out", str(out)]  # fmt: skip
    return explainlab_process(argv, stderr=subprocess.PIPE)


def _wait_for(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.time() + 300
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.stderr.read()}"
        assert time.time() < deadline, f"no {what} within 300 s"
        time.sleep(0.05)


def _outputs(run: Path) -> dict[str, object]:
    folder = run / "lime"
    out: dict[str, object] = {}
    for key in KEYS:
        out[f"{key}/segments"] = np.load(folder / key / "segments.npy")
        out[f"{key}/mask"] = np.load(folder / key / "mask.npy")
        out[f"{key}/weights"] = json.loads((folder / key / "weights.json").read_text())
    return out


@pytest.mark.slow
def test_sigint_then_sigterm_then_a_rerun_give_the_uninterrupted_outputs(tmp_path, mirror):
    params = tmp_path / "p.toml"
    params.write_text("[defaults]\nnum_samples = 60\nbatch_size = 60\n")
    clean = _lime(tmp_path / "clean", params)  # uninterrupted, beside the others
    run = tmp_path / "run"
    partial = run / ".lime.partial"

    # Ctrl-C once the first image is finished
    first = _lime(run, params)
    _wait_for(lambda: (partial / KEYS[0] / ".done").exists(), first, "the first image")
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=120) == 130
    err = first.stderr.read()
    assert f"interrupted; rerun resumes from 1 of 2 (stage lime: {partial}" in err, err
    assert "Traceback" not in err

    # SIGTERM while the rerun works on the second image: its half-written folder goes
    second = _lime(run, params)
    _wait_for(lambda: any(partial.glob(f".{KEYS[1]}.*")), second, "the second image began")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=120) == 143
    err = second.stderr.read()
    assert "interrupted; rerun resumes from 1 of 2" in err and "SIGTERM" in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in partial.iterdir()) == ["fingerprint.json", KEYS[0]]
    assert not (run / "lime").exists()  # nothing half done is presented as a result

    third = _lime(run, params)
    assert third.wait(timeout=300) == 0, third.stderr.read()
    assert clean.wait(timeout=300) == 0, clean.stderr.read()
    resumed, uninterrupted = _outputs(run), _outputs(tmp_path / "clean")
    for key, value in uninterrupted.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(resumed[key], value, err_msg=key)
        else:
            assert resumed[key] == value, key
