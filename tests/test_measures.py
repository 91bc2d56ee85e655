"""The registry of measures: every spec is complete and its reference test exists; each
measure's values on planted arrays lie in its range and move in its stated direction;
a toy measure registered in a test only reaches agreement.csv, summary.txt and report
4's tables (a column that fits) without another file changing."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from explainlab import masks
from explainlab.measures import (
    COMPARES,
    DIRECTIONS,
    MeasureSpec,
    get_measure,
    measure_names,
    measures,
    register,
    table_columns,
    unregister,
)
from explainlab.measures.agreement import MapMask
from explainlab.measures.registry import TABLES

REPO = Path(__file__).resolve().parents[1]
SIZE = 32
SWEEP = tuple(np.round(np.arange(0.05, 1.0, 0.1), 2))


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_measure_is_complete():
    assert set(measure_names()) >= {
        "iou_threshold",
        "dice_threshold",
        "iou_area",
        "dice_area",
        "iou_area_chance",
        "iou_sweep_mean",
        "pointing_game",
        "superpixel_rho",
        "superpixel_p",
        "cam_area",
        "lime_area",
        "deletion_auc",
        "insertion_auc",
        "spearman",
        "ssim",
    }
    for spec in measures():
        assert spec.compares in COMPARES and spec.direction in DIRECTIONS, spec.name
        assert spec.tables in TABLES and spec.title and spec.about, spec.name
        low, high = spec.range
        assert low < high and np.isfinite(low), spec.name
        # unbounded above only where the compare stage does not plot it (max-sensitivity)
        assert np.isfinite(high) or spec.compares not in ("map-mask", "map", "sanity"), spec.name
        assert spec.reference == "ours" or ":" in spec.reference, spec.name
        file, _, name = spec.test.partition("::")
        assert name in _defined_tests(REPO / file), f"{spec.name}: {spec.test} does not exist"
        if spec.chance:
            assert get_measure(spec.chance).compares == spec.compares
    # agreement.csv's rows keep their order: the registry's is the declaration order
    assert measure_names("map-mask")[:3] == ("iou_threshold", "dice_threshold", "iou_area")


def test_an_unknown_measure_names_the_close_ones():
    with pytest.raises(ValueError, match="did you mean iou_area"):
        get_measure("iou_aera")


def test_a_bad_spec_is_refused():
    base = dict(
        name="bad",
        title="bad",
        compares="map-mask",
        direction="higher",
        range=(0.0, 1.0),
        reference="ours",
        test="tests/test_measures.py::test_a_bad_spec_is_refused",
        compute=lambda pair: 0.0,
    )
    for change in ({"direction": "up"}, {"compares": "maps"}, {"range": (1.0, 0.0)}):
        with pytest.raises(ValueError):
            register(MeasureSpec(**(base | change)))
    assert "bad" not in measure_names()


# --- planted arrays ------------------------------------------------------------------------


def _lime(mask: np.ndarray) -> SimpleNamespace:
    """A LIME explanation of 4x4 squares of 8 pixels, the ones under ``mask`` weighted 1,
    the others weighted by a small ramp."""
    rows, cols = np.indices((SIZE, SIZE)) // 8
    segments = rows * 4 + cols
    weights = {
        int(s): (1.0 + 0.01 * s if mask[segments == s].all() else 0.01 * s - 1.0)
        for s in np.unique(segments)
    }
    return SimpleNamespace(segments=segments, weights=weights, mask=mask)


def _pair(cam: np.ndarray, mask: np.ndarray, seed: int = 0) -> MapMask:
    return MapMask.of(cam, _lime(mask), threshold=0.5, sweep=SWEEP, rng=np.random.default_rng(seed))


def _planted() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[8:24, 8:16] = True  # two superpixels
    lime = _lime(mask)
    exact = masks.superpixel_map(lime.segments, lime.weights)  # ranks like LIME's weights
    inverse = -exact
    noise = np.random.default_rng(1).random((SIZE, SIZE))
    return mask, {"exact": exact, "noise": noise, "inverse": inverse}


def test_agreement_measures_lie_in_range_and_best_where_the_map_is_the_mask():
    mask, cams = _planted()
    values = {
        name: {s.name: s.compute(_pair(cam, mask)) for s in measures("map-mask")}
        for name, cam in cams.items()
    }
    for spec in measures("map-mask"):
        low, high = spec.range
        for name in cams:
            v = values[name][spec.name]
            assert np.isnan(v) or low <= v <= high, (spec.name, name, v)
        if spec.direction == "higher":
            assert values["exact"][spec.name] > values["noise"][spec.name] >= spec.range[0]
            assert values["noise"][spec.name] > values["inverse"][spec.name] or (
                values["inverse"][spec.name] == spec.range[0]
            ), spec.name
        if spec.direction == "lower":  # none today; a lower-is-better one must order so
            assert values["exact"][spec.name] < values["noise"][spec.name]
    exact = values["exact"]
    for name in ("iou_threshold", "iou_area", "dice_area", "pointing_game", "superpixel_rho"):
        assert exact[name] == pytest.approx(get_measure(name).range[1]), name
    assert values["inverse"]["iou_area"] == 0.0 and values["inverse"]["superpixel_rho"] == -1.0
    assert exact["superpixel_p"] < 0.01 < values["noise"]["superpixel_p"]


def test_areas_known_values():
    mask = np.zeros((SIZE, SIZE), bool)
    mask[:8, :] = True  # a quarter of the crop
    cam = np.zeros((SIZE, SIZE))
    cam[:, :4] = 1.0  # an eighth of the crop at or above half the maximum
    pair = _pair(cam, mask)
    assert get_measure("cam_area").compute(pair) == 0.125
    assert get_measure("lime_area").compute(pair) == 0.25
    # two random masks of a quarter each: 1/16 / (1/2 - 1/16)
    assert get_measure("iou_area_chance").compute(pair) == pytest.approx(1 / 7)


def _curve(probs: np.ndarray) -> SimpleNamespace:
    return SimpleNamespace(fractions=np.linspace(0, 1, len(probs)), probs=np.asarray(probs))


def test_faithfulness_measures_move_in_their_direction():
    fast = {"deletion": _curve([1, 0.1, 0, 0, 0]), "insertion": _curve([0, 0.9, 1, 1, 1])}
    slow = {"deletion": _curve([1, 1, 1, 0.9, 0]), "insertion": _curve([0, 0, 0, 0.1, 1])}
    for spec in measures("map"):
        good, bad = spec.compute(fast), spec.compute(slow)
        low, high = spec.range
        assert low <= good <= high and low <= bad <= high, spec.name
        assert spec.beats(good, bad) and not spec.beats(bad, good), spec.name


def test_sanity_measures_are_top_for_the_same_map_and_lower_for_another():
    rng = np.random.default_rng(0)
    original = rng.random((SIZE, SIZE))
    for spec in measures("sanity"):
        low, high = spec.range
        same, other = spec.compute(original, original), spec.compute(original, rng.random((32, 32)))
        assert same == pytest.approx(high) and low <= other < same, spec.name
        assert spec.direction == "lower" and spec.beats(other, same)  # a map must change
    assert get_measure("spearman").compute(original, np.ones((SIZE, SIZE))) == 0.0


def test_ssim_is_scikit_images_on_normalised_maps():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(3)
    a, b = rng.normal(5, 2, (40, 40)), rng.normal(-1, 9, (40, 40))
    expected = structural_similarity(masks.normalise(a), masks.normalise(b), data_range=1.0)
    assert get_measure("ssim").compute(a, b) == pytest.approx(expected, abs=1e-12)


# --- a toy measure flows through the comparison ----------------------------------------------

TOY = "toy_centre"


@pytest.fixture
def toy_measure():
    """A measure registered for this test only: the CAM's share of mass inside the mask."""

    def toy_centre(pair: MapMask) -> float:
        """Share of the normalised CAM's mass that lies inside LIME's mask."""
        norm = masks.normalise(pair.cam)
        return float(norm[pair.lime.mask].sum() / max(norm.sum(), 1e-12))

    spec = register(
        MeasureSpec(
            name=TOY,
            title="mass inside LIME's mask",
            label="mass in mask",
            short="mass in",
            compares="map-mask",
            direction="higher",
            range=(0.0, 1.0),
            reference="ours",
            test="tests/test_measures.py::test_a_toy_measure_reaches_the_tables_and_report_4",
            compute=toy_centre,
        )
    )
    try:
        yield spec
    finally:
        unregister(TOY)
    assert TOY not in measure_names()


def test_a_toy_measure_reaches_the_tables_and_report_4(toy_measure, tmp_path):
    from explainlab.assignment.report import compare_report
    from explainlab.assignment.report.common import RunFacts
    from explainlab.compare.run import run_compare
    from explainlab.compare.settings import CompareSettings
    from explainlab.images import IMAGENET_GEOMETRY
    from explainlab.report.pdf import TEXT_WIDTH
    from helpers import RedInBoxNet, red_patches_image
    from test_compare_support import classifier_fn, sample_of, write_cam_result, write_lime_result

    box, target = (32, 32, 128, 128), 2
    net = RedInBoxNet(box).eval()
    crop = red_patches_image(box, (144, 144, 208, 208))
    sample = sample_of("red", crop, tmp_path / "red.png")
    cam = np.zeros((224, 224), np.float32)
    cam[40:120, 40:120] = 1.0
    write_cam_result(tmp_path, "red", {"gradcam": cam}, target, 0.9, sample.path)
    write_lime_result(
        tmp_path,
        "red",
        crop,
        classifier_fn(net, IMAGENET_GEOMETRY),
        target,
        num_samples=60,
        num_features=5,
        hide_color=0,
    )
    settings = CompareSettings(faithfulness=False, sanity=False, cam_methods=("gradcam",))
    outcome = run_compare(settings, tmp_path, samples=[sample])

    table = pd.read_csv(tmp_path / "compare" / "agreement.csv")
    assert list(table["measure"]) == list(measure_names("map-mask"))
    assert list(table["measure"])[-1] == TOY and 0.5 < table["value"].iloc[-1] <= 1.0
    numbers = json.loads((tmp_path / "compare" / "summary.json").read_text())
    assert numbers["agreement_mean"]["gradcam"][TOY] == pytest.approx(
        table["value"].iloc[-1], abs=1e-4
    )
    summary = (tmp_path / "compare" / "summary.txt").read_text().splitlines()
    header = next(line for line in summary if line.strip().startswith("method"))
    assert header.endswith(" mass in") and "rho spx" in header
    assert outcome.summary == numbers

    # report 4: the column is in both agreement tables, and the table per image still fits
    assert table_columns("map-mask", "image")[-1].name == TOY
    widths = compare_report.column_widths([c.width_cm for c in table_columns("map-mask", "image")])
    assert sum(widths) <= TEXT_WIDTH + 1e-6 and len(widths) == 1 + 6
    pdf = compare_report.build(RunFacts.read(tmp_path), tmp_path / "4_comparison.pdf")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    assert text.count("mass in mask") == 2  # the table of means and the table per image
