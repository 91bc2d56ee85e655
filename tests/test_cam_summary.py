"""The CAM summary tables on hand-made maps, and the figures report 2 prints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainlab.cam import findings
from explainlab.cam.figures import GridRow, grid_figure, read_crop, save_overlay
from explainlab.cam.findings import CamFindings
from explainlab.cam.summary import (
    agreement_table,
    focus_table,
    image_table,
    method_table,
    pair_table,
    read_summary,
    summarise,
)
from explainlab.plotting import close, legibility_problems


def blob(size: int, top: int, left: int, side: int) -> np.ndarray:
    """A map that is 1 on a square and falls off linearly around it, in [0, 1]."""
    y, x = np.mgrid[:size, :size]
    dy = np.maximum(0, np.maximum(top - y, y - (top + side - 1)))
    dx = np.maximum(0, np.maximum(left - x, x - (left + side - 1)))
    return np.clip(1 - np.hypot(dy, dx) / (size / 4), 0, 1).astype(np.float32)


def quarter(size: int = 8) -> np.ndarray:
    saliency = np.zeros((size, size), np.float32)
    saliency[: size // 2, : size // 2] = 1.0
    return saliency


def test_focus_is_the_share_at_or_above_half_the_maximum():
    focus = focus_table({"a": {"gradcam": quarter(), "scorecam": np.ones((8, 8)) * 0.2}})
    got = dict(zip(focus["method"], focus["focus"], strict=True))
    # a constant map normalises to zeros: no pixel is "high"
    assert got == {"gradcam": pytest.approx(0.25), "scorecam": 0.0}


def test_identical_maps_agree_fully_and_disjoint_ones_not_at_all():
    a, b = blob(32, 0, 0, 6), blob(32, 24, 24, 6)
    table = agreement_table({"x": {"gradcam": a, "ablationcam": a.copy(), "scorecam": b}})
    rows = table.set_index("pair")
    same = rows.loc["gradcam/ablationcam"]
    assert same["rho"] == pytest.approx(1.0) and same["iou_half"] == 1.0
    assert same["peak_distance"] == 0.0
    apart = rows.loc["gradcam/scorecam"]
    assert apart["iou_half"] == 0.0 and apart["rho"] < 0
    assert apart["peak_distance"] == pytest.approx(np.hypot(24, 24))


def test_method_table_counts_where_each_method_is_broadest_and_times_it():
    maps = {
        k: {"gradcam": blob(32, 4, 4, 4), "scorecam": blob(32, 4, 4, 12)} for k in ("a", "b", "c")
    }
    maps["c"]["scorecam"] = blob(32, 4, 4, 2)  # narrower on one image
    timings = pd.DataFrame(
        {
            "key": ["a", "a", "b", "b", "c", "c"],
            "method": ["gradcam", "scorecam"] * 3,
            "seconds": [1.0, 10.0, 1.0, 10.0, 1.0, 10.0],
        }
    )
    table = method_table(focus_table(maps), timings).set_index("method")
    assert table.loc["scorecam", "broadest_images"] == 2
    assert table.loc["scorecam", "narrowest_images"] == 1
    assert table.loc["gradcam", "broadest_images"] == 1
    assert table.loc["scorecam", "times_fastest"] == pytest.approx(10.0)
    assert table.loc["scorecam", "seconds_total"] == pytest.approx(30.0)


def test_pair_and_image_tables():
    a, b = blob(32, 0, 0, 6), blob(32, 10, 10, 6)
    maps = {"x": {"gradcam": a, "scorecam": b}, "y": {"gradcam": a, "scorecam": a}}
    agreement = agreement_table(maps)
    pairs = pair_table(agreement).set_index("pair")
    assert pairs.loc["gradcam/scorecam", "rho_max"] == pytest.approx(1.0)
    assert pairs.loc["gradcam/scorecam", "images"] == 2
    images = image_table(focus_table(maps), agreement).set_index("key")
    assert images.loc["y", "rho_mean"] == pytest.approx(1.0)
    assert images.loc["x", "rho_mean"] < images.loc["y", "rho_mean"]
    assert list(images.index) == ["x", "y"]


def _cam_folder(tmp_path, grid: list[int] | None):
    import json

    cam = tmp_path / "cam"
    rows = []
    for key in ("a", "b"):
        (cam / key).mkdir(parents=True)
        for method in ("gradcam", "scorecam"):
            np.save(cam / key / f"{method}.npy", blob(16, 2, 2, 4))
            rows.append({"key": key, "method": method, "impl": "fast", "seconds": 0.5})
        item = {"key": key, "layer": "features"} | ({"grid": grid, "channels": 8} if grid else {})
        item["impl"] = {"gradcam": {"impl": "fast"}, "scorecam": {"impl": "library"}}
        (cam / key / "item.json").write_text(json.dumps(item))
    pd.DataFrame(rows).to_csv(cam / "timings.csv", index=False)
    pd.DataFrame(
        {
            "key": ["a", "b"],
            "true_id": [1, 2],
            "true_name": ["one", "two"],
            "top1_id": [1, 3],
            "top1_name": ["one", "three"],
            "top1_prob": [0.9, 0.6],
            "top1_correct": [True, False],
            "target_id": [1, 3],
        }
    ).to_csv(cam / "predictions.csv", index=False)
    return cam


def test_the_stage_writes_what_read_summary_reads(tmp_path):
    cam = _cam_folder(tmp_path, [4, 4])
    assert read_summary(cam) is None  # a folder made before the summary
    record = findings.write(
        cam, ["a", "b"], ["gradcam", "scorecam"], cam, device="cpu", where="cam"
    )
    read = read_summary(cam)
    facts = {"images": 2, "crop": [16, 16], "grid": [4, 4], "channels": 8, "cell_px": 4.0}
    assert read["summary.json"].items() >= facts.items()  # the grid facts, then the record
    assert CamFindings.read(cam) == record and record.findings
    written = summarise(cam, ["a", "b"], ["gradcam", "scorecam"], tmp_path / "again")
    pd.testing.assert_frame_equal(read["focus.csv"], written["focus.csv"])


def test_summary_txt_states_the_records_findings_and_what_computed_the_maps(tmp_path):
    """What computed the maps is what the images' item.json record, not what was asked:
    here Grad-CAM by the fast variant, ScoreCAM by the library."""
    cam = _cam_folder(tmp_path, [4, 4])
    record = findings.write(
        cam, ["a", "b"], ["gradcam", "scorecam"], cam, device="cpu", where="cam"
    )
    assert record.impls == {"gradcam": "fast", "scorecam": "library"}
    phrase = (
        "Grad-CAM (pytorch-grad-cam's, by our exact fast variants) and ScoreCAM (pytorch-grad-cam)"
    )
    assert record.methods_phrase() == phrase
    summary_txt = (cam / "summary.txt").read_text()
    assert phrase in summary_txt
    for finding in record.findings:
        assert f"- {finding.markdown()}" in summary_txt
    timing = next(f for f in record.findings if "slowest" in f.claim)
    assert "ScoreCAM the whole network once per channel (8)" in timing.reason


def test_a_folder_without_a_recorded_grid_says_so(tmp_path):
    cam = _cam_folder(tmp_path, None)
    record = findings.write(
        cam, ["a", "b"], ["gradcam", "scorecam"], tmp_path / "tables", device="", where="t"
    )
    assert record.grid is None and record.cell_px is None
    assert "does not record the grid" in record.findings[0].claim


def test_the_crop_is_recovered_from_an_overlay(tmp_path):
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    saliency = blob(24, 3, 3, 8)
    np.save(tmp_path / "gradcam.npy", saliency)
    save_overlay(crop, saliency, tmp_path / "gradcam.png")
    recovered = read_crop(tmp_path, "gradcam")
    assert np.abs(recovered.astype(int) - crop).max() <= 2


@pytest.mark.parametrize(("width", "per_row", "images"), [(6.85, 2, 2), (6.2, 1, 5), (6.85, 2, 3)])
def test_the_map_grid_is_legible_at_print_size(width, per_row, images):
    crop = np.full((32, 32, 3), 128, np.uint8)
    maps = {m: blob(32, 4, 4, 8) for m in ("gradcam", "ablationcam", "scorecam")}
    labels = [
        "West Highland white terrier: West Highland white terrier 91% ✓",
        "kite: bald eagle 48% ✗",
        "common iguana",
        "American coot",
        "orange",
    ]
    rows = [GridRow(labels[i], crop, maps) for i in range(images)]
    fig = grid_figure(rows, width, per_row)
    try:
        assert fig.get_figwidth() <= 6.85 + 1e-9
        assert legibility_problems(fig) == []
    finally:
        close(fig)


def test_the_saved_grid_is_no_wider_than_it_prints_and_keeps_long_names(tmp_path):
    from PIL import Image

    from explainlab.cam.figures import save_grid

    crop = np.full((32, 32, 3), 128, np.uint8)
    maps = {m: blob(32, 4, 4, 8) for m in ("gradcam", "ablationcam", "scorecam")}
    rows = [GridRow("West Highland white terrier", crop, maps), GridRow("kite", crop, maps)]
    fig = grid_figure(rows, 6.85, per_row=2)
    label = fig.axes[1].get_ylabel()
    close(fig)
    assert label.replace("\n", " ") == "West Highland white terrier"
    with Image.open(save_grid(rows, tmp_path / "grid.png", 6.85, per_row=2)) as image:
        assert image.width / image.info["dpi"][0] <= 6.85 + 0.01


def test_ten_images_fit_the_height_with_their_labels_beside_them():
    """Report 2's page 2: ten rows of crop and maps within the height it has, each label
    (the image, its top-1 class) written beside its row, legible at print size."""
    from explainlab.assignment.report.cam_report import GRID_HEIGHT_IN, GRID_WIDTH_IN

    crop = np.full((32, 32, 3), 128, np.uint8)
    maps = {m: blob(32, 4, 4, 8) for m in ("gradcam", "ablationcam", "scorecam")}
    label = "West Highland white terrier\ntop-1: West Highland white terrier 97% ✓"
    fig = grid_figure([GridRow(label, crop, maps)] * 10, GRID_WIDTH_IN, height_in=GRID_HEIGHT_IN)
    try:
        assert fig.get_figheight() <= GRID_HEIGHT_IN + 1e-9
        assert fig.get_figwidth() <= GRID_WIDTH_IN + 1e-9
        pictures = [ax for ax in fig.axes if ax.images]
        assert len(pictures) == 10 * 4
        first = pictures[0].yaxis.label
        assert first.get_rotation() == 0 and first.get_text().startswith("West Highland")
        assert legibility_problems(fig) == []
    finally:
        close(fig)
