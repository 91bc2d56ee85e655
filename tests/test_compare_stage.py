"""End to end on the offline model (EfficientNet-Lite0) over two mission images: the CAM
stage's Grad-CAM, LIME results in the LIME stage's layout (plain lime, few samples), then
the compare stage with tiny settings; every output exists and the numbers are in range."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from explainlab.cam.run import run_cam
from explainlab.cam.settings import CamSettings
from explainlab.compare.run import run_compare
from explainlab.compare.settings import CompareSettings
from explainlab.errors import InputError
from explainlab.images import mission_sources
from explainlab.measures import measures
from test_compare_support import classifier_fn, write_lime_result

KEYS = ("goldfish", "flamingo")
TINY = CompareSettings(
    steps=4,
    random_repeats=1,
    batch_size=16,
    sanity_methods=("gradcam", "lime"),
    sanity_max_steps=1,
    sanity_images=1,
    lime_samples=20,
    lime_batch_size=20,
)
STAGE_FILES = (
    "agreement.csv",
    "iou_sweep.csv",
    "complexity.csv",
    "correlations.csv",
    "faithfulness.csv",
    "faithfulness_curves.csv",
    "faithfulness_summary.csv",
    "sanity.csv",
    "iou_bars.png",
    "iou_sweep.png",
    "complexity_scatter.png",
    "faithfulness_curves.png",
    "faithfulness_auc.png",
    "sanity.png",
    "summary.txt",
    "summary.json",
)


@pytest.fixture(scope="module")
def lite0_run(tmp_path_factory, lite0, mirror):
    run = tmp_path_factory.mktemp("lite0-run")
    cam = run_cam(
        CamSettings(model="efficientnet_lite0", methods=("gradcam",), impl="library"),
        mission_sources(list(KEYS)),
        run,
        model=lite0,
    )
    assert not cam.failures
    classify = classifier_fn(lite0.module, lite0.geometry)
    for key in KEYS:
        item = json.loads((run / "cam" / key / "item.json").read_text())
        crop = _crop(item["path"])
        write_lime_result(
            run, key, crop, classify, item["target_id"], num_samples=40, num_features=5
        )
    outcome = run_compare(TINY, run, model=lite0)
    return run, outcome


def _crop(path: str) -> np.ndarray:
    from explainlab.images import center_crop, open_rgb

    return center_crop(open_rgb(path))


def test_every_output_file_exists(lite0_run):
    run, outcome = lite0_run
    folder = run / "compare"
    assert outcome.folder == folder and not outcome.failures
    for name in STAGE_FILES:
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
    for key in KEYS:
        for name in ("panel.png", "curves.png", "agreement.csv", "item.json"):
            assert (folder / key / name).is_file(), (key, name)
    # The sanity check ran on the first image only (sanity_images=1).
    assert (folder / KEYS[0] / "sanity.png").is_file()
    assert not (folder / KEYS[1] / "sanity.png").exists()
    assert not (run / ".compare.partial").exists()


def test_numbers_are_in_range(lite0_run):
    run, outcome = lite0_run
    agreement = outcome.agreement
    # One row per image x method x measure.
    assert len(agreement) == len(KEYS) * 1 * len(measures("map-mask"))
    assert not agreement.duplicated(["key", "method", "measure"]).any()
    for spec in measures("map-mask"):  # each measure within its stated range
        values = agreement[agreement["measure"] == spec.name]["value"].dropna()
        assert values.between(*spec.range).all(), spec.name
    sweep = pd.read_csv(run / "compare" / "iou_sweep.csv")
    assert len(sweep) == len(KEYS) * len(TINY.sweep) and sweep["iou"].between(0, 1).all()

    faith = outcome.faithfulness
    assert set(faith["method"]) == {"gradcam", "lime", "random"}
    assert faith["p_full"].between(0, 1).all()
    for spec in measures("map"):
        assert faith[spec.name].between(*spec.range).all(), spec.name
    curves = pd.read_csv(run / "compare" / "faithfulness_curves.csv")
    assert curves["prob"].between(0, 1).all() and curves["fraction"].between(0, 1).all()
    assert len(curves) == len(KEYS) * 3 * 2 * (TINY.steps + 1)

    sanity = outcome.sanity
    assert set(sanity["key"]) == {KEYS[0]} and set(sanity["method"]) == {"gradcam", "lime"}
    assert sanity["step"].max() == 1 and sanity["block"].iloc[-1] == "classifier"
    assert sanity[["spearman", "ssim"]].abs().le(1 + 1e-9).all().all()
    original = sanity[sanity["step"] == 0]
    np.testing.assert_allclose(original[["spearman", "ssim"]], 1.0, atol=1e-6)

    comp = pd.read_csv(run / "compare" / "complexity.csv")
    for column in ("object_area", "edge_density", "top1_prob"):
        assert comp[column].between(0, 1).all(), column
    assert (comp["n_superpixels"] >= 1).all() and comp["colour_entropy"].between(0, 9).all()

    numbers = json.loads((run / "compare" / "summary.json").read_text())
    assert numbers["images"] == 2 and numbers["model"] == "efficientnet_lite0"
    assert numbers["complexity"]["verdict"] == "undetermined"  # two images answer nothing
    assert "gradcam" in numbers["faithfulness_mean"]
    text = (run / "compare" / "summary.txt").read_text()
    assert "Agreement with LIME" in text and "Sanity check" in text


def test_rerun_is_skipped_and_bad_inputs_fail_alone(lite0_run, tmp_path, capsys):
    run, _ = lite0_run
    again = run_compare(TINY, run)
    assert again.skipped
    # A copy whose second image has a broken LIME mask: the first is still compared.
    copy = tmp_path / "copy"
    for stage in ("cam", "lime"):
        shutil.copytree(run / stage, copy / stage)
    np.save(copy / "lime" / KEYS[1] / "mask.npy", np.zeros((10, 10), bool))
    from explainlab.cli import main

    status = main(["compare", "--run", str(copy), "--no-faithfulness", "--no-sanity"])
    captured = capsys.readouterr()
    assert status == 1
    assert "mask.npy: shape (10, 10)" in captured.err
    table = pd.read_csv(copy / "compare" / "agreement.csv")
    assert set(table["key"]) == {KEYS[0]}
    assert "Agreement with LIME" in captured.out


def test_missing_lime_stage_is_a_clear_error(tmp_path):
    (tmp_path / "cam").mkdir()
    with pytest.raises(InputError, match="no lime results") as info:
        run_compare(TINY, tmp_path)
    assert "explainlab lime" in str(info.value)
