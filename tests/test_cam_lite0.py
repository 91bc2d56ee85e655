"""The CAM methods on the offline, really trained EfficientNet-Lite0 and the ten images:
fast vs library, shapes and ranges, a randomisation sanity check, the stage end to end."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from explainlab.cam.methods import compute_cam
from explainlab.cam.run import run_cam
from explainlab.cam.settings import METHODS, CamSettings
from explainlab.cam.split import split_at
from explainlab.cam.summary import read_summary
from explainlab.cli import main
from explainlab.images import MISSION_KEYS, mission_sources

TOLERANCE = 1e-4
STAGE_KEYS = ("goldfish", "tiger_shark")  # the most all-zero channels: cheapest ScoreCAM


def _top1(lite0, sample) -> int:
    return int(lite0.probabilities(sample.tensor[None])[0].argmax())


def _assert_map(saliency: np.ndarray) -> None:
    assert saliency.shape == (224, 224) and saliency.dtype == np.float32
    assert np.isfinite(saliency).all()
    assert saliency.min() >= 0.0 and saliency.max() <= 1.0
    assert saliency.max() > saliency.min()  # an actual map, not a blank


def test_lite0_target_layer_splits_with_fx(lite0, mission_samples):
    split = split_at(lite0.module, lite0.layer(), mission_samples["goldfish"].tensor[None])
    assert split.path == "fx", split.reason
    assert split.activation.shape == (1, 1280, 7, 7)


@pytest.mark.slow  # the library's AblationCAM and ScoreCAM: about a minute on 2 cores
@pytest.mark.parametrize("method", METHODS)
def test_fast_equals_library_on_lite0(lite0, mission_samples, method):
    sample = mission_samples["goldfish"]
    x, target = sample.tensor[None], _top1(lite0, sample)
    ours = compute_cam(method, lite0.module, lite0.layer(), x, target, impl="fast")
    ref = compute_cam(method, lite0.module, lite0.layer(), x, target, impl="library")
    assert np.abs(ours - ref).max() <= TOLERANCE


def test_gradcam_and_ablationcam_maps_on_the_ten_images(lite0, mission_samples):
    assert set(mission_samples) == set(MISSION_KEYS)
    for key in MISSION_KEYS:
        sample = mission_samples[key]
        x, target = sample.tensor[None], _top1(lite0, sample)
        _assert_map(compute_cam("gradcam", lite0.module, lite0.layer(), x, target))
        if key in ("flamingo", "racer", "kite"):
            _assert_map(compute_cam("ablationcam", lite0.module, lite0.layer(), x, target))


def _reinitialise_last_block(model: nn.Module) -> nn.Module:
    """A copy whose last block (``blocks[-1]``, the last stage's single inverted residual
    block) gets fresh default (Kaiming) convolution weights; BatchNorm is kept."""
    model = copy.deepcopy(model)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for module in model.blocks[-1].modules():
            if isinstance(module, nn.Conv2d):
                module.reset_parameters()
    return model


def test_randomising_the_last_block_changes_gradcam(lite0, mission_samples):
    randomised = _reinitialise_last_block(lite0.module)
    assert len(randomised.blocks[-1]) == 1
    before, after = lite0.module.blocks[-1][0].conv_pw, randomised.blocks[-1][0].conv_pw
    assert not torch.equal(before.weight, after.weight)
    correlations = []
    for key in MISSION_KEYS:
        x = mission_samples[key].tensor[None]
        target = _top1(lite0, mission_samples[key])
        original = compute_cam("gradcam", lite0.module, lite0.layer(), x, target)
        after = compute_cam("gradcam", randomised, randomised.bn2, x, target)
        if after.max() == after.min():
            continue  # all evidence gone (a blank map): changed, but has no ranks
        correlations.append(spearmanr(original.ravel(), after.ravel())[0])
    assert len(correlations) >= 3, "too few maps survive to rank"
    assert max(correlations) < 0.5, correlations


@pytest.fixture(scope="module")
def stage_run(lite0, mirror, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cam-run")
    settings = CamSettings(model="efficientnet_lite0", impl="fast")
    outcome = run_cam(settings, mission_sources(list(STAGE_KEYS)), run_dir, model=lite0)
    return settings, run_dir, outcome


def test_stage_writes_every_file(stage_run):
    _, run_dir, outcome = stage_run
    assert not outcome.failures and not outcome.skipped
    folder = run_dir / "cam"
    for key in STAGE_KEYS:
        for method in METHODS:
            _assert_map(np.load(folder / key / f"{method}.npy"))
            assert (folder / key / f"{method}.png").stat().st_size > 1000
        assert (folder / key / "panel.png").stat().st_size > 1000
        assert (folder / key / "crop.png").stat().st_size > 1000
        item = json.loads((folder / key / "item.json").read_text())
        assert item["grid"] == [7, 7] and item["channels"] == 1280  # bn2 of a 224 crop
    summary = read_summary(folder)
    assert summary is not None and summary["summary.json"]["cell_px"] == 32.0
    assert set(summary["method_summary.csv"]["method"]) == set(METHODS)
    assert len(summary["method_agreement.csv"]) == len(STAGE_KEYS) * 3
    timings = pd.read_csv(folder / "timings.csv")
    assert len(timings) == len(STAGE_KEYS) * len(METHODS) and set(timings["impl"]) == {"fast"}
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert list(predictions["key"]) == list(STAGE_KEYS)
    assert predictions["top1_correct"].all()  # goldfish and tiger_shark: both right


def test_stage_rerun_is_up_to_date(stage_run, lite0):
    settings, run_dir, _ = stage_run
    again = run_cam(settings, mission_sources(list(STAGE_KEYS)), run_dir, model=lite0)
    assert again.skipped


def test_cli_library_impl(stage_run, tmp_path, capsys):
    _, run_dir, _ = stage_run
    out = tmp_path / "library-run"
    status = main(
        [
            "cam",
            "--model",
            "efficientnet_lite0",
            "--methods",
            "gradcam",
            "--impl",
            "library",
            "--images",
            "goldfish",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert set(pd.read_csv(out / "cam" / "timings.csv")["impl"]) == {"library"}
    library_map = np.load(out / "cam" / "goldfish" / "gradcam.npy")
    fast_map = np.load(run_dir / "cam" / "goldfish" / "gradcam.npy")
    assert np.abs(library_map - fast_map).max() <= TOLERANCE
