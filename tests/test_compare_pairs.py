"""Everything compares everything, end to end on the offline model (EfficientNet-Lite0),
one mission image: the CAM stage computes two gradient CAMs (one shared pass), Saliency
and RISE (few masks) as xl.explain does; with a LIME result, the compare stage measures
every two of the five maps, deletion/insertion and the sanity check of each; report 4's
appendix shows the matrix. And ``xl.agreement`` gives the pairwise table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from explainlab.cam.run import run_cam
from explainlab.cam.settings import CamSettings
from explainlab.compare.findings import CompareFindings
from explainlab.compare.run import run_compare
from explainlab.compare.settings import CompareSettings
from explainlab.images import mission_sources
from explainlab.measures import measures
from test_compare_support import classifier_fn, write_lime_result

KEY = "goldfish"
METHODS = ("gradcam", "gradcamplusplus", "saliency", "rise")
FEW = {"rise_masks": 32, "batch_size": 32}
CAM = CamSettings(model="efficientnet_lite0", methods=METHODS, impl="fast")
TINY = CompareSettings(
    steps=4,
    random_repeats=1,
    batch_size=16,
    sanity_max_steps=1,
    lime_samples=20,
    lime_batch_size=20,
)


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory, lite0, mirror):
    from dataclasses import replace

    from explainlab.attributions.settings import AttributionSettings

    run = tmp_path_factory.mktemp("pairs-run")
    settings = replace(CAM, attributions=AttributionSettings(**FEW))
    cam = run_cam(settings, mission_sources([KEY]), run, model=lite0)
    assert not cam.failures
    item = json.loads((run / "cam" / KEY / "item.json").read_text())
    crop = np.asarray(_crop(item["path"]))
    classify = classifier_fn(lite0.module, lite0.geometry)
    write_lime_result(run, KEY, crop, classify, item["target_id"], num_samples=40, num_features=5)
    return run, cam, run_compare(TINY, run, model=lite0)


def _crop(path: str) -> np.ndarray:
    from explainlab.images import center_crop, open_rgb

    return center_crop(open_rgb(path))


def test_the_cam_stage_computes_the_attributions_as_xl_explain_does(pairs_run, lite0):
    import explainlab as xl

    run, cam, _ = pairs_run
    folder = run / "cam" / KEY
    item = json.loads((folder / "item.json").read_text())
    assert list(item["seconds"]) == list(METHODS)
    assert item["impl"]["saliency"]["impl"] == "captum" and item["impl"]["rise"]["impl"] == "ours"
    assert "shared with gradcamplusplus" in item["impl"]["gradcam"]["note"]
    timings = cam.timings.set_index("method")["impl"]
    assert timings["gradcam"] == "fast" and timings["saliency"] == "captum"
    assert np.load(folder / "saliency_raw.npy").shape == (3, 224, 224)
    assert np.load(folder / "rise_raw.npy").shape == (1, 224, 224)
    assert not (folder / "gradcam_raw.npy").exists()
    found = xl.explain(lite0, item["path"], ["saliency", "rise"], attributions=FEW)[0]
    for method in ("saliency", "rise"):
        np.testing.assert_array_equal(np.load(folder / f"{method}.npy"), found.maps[method])
        np.testing.assert_array_equal(
            np.load(folder / f"{method}_raw.npy"), found.raw[method].numpy()
        )


def test_every_two_methods_are_compared_and_each_one_checked(pairs_run):
    run, _, outcome = pairs_run
    folder = run / "compare"
    compared = [*METHODS[:2], "lime", *METHODS[2:]]  # the registry's order: LIME after the CAMs
    pairs = pd.read_csv(folder / "pairs.csv")
    assert len(pairs) == 10 * len(measures("pair"))  # 5 maps: 10 pairs
    assert pairs.equals(pd.read_csv(folder / KEY / "pairs.csv"))
    assert set(pairs["method_a"]) | set(pairs["method_b"]) == set(compared)
    for spec in measures("pair"):
        values = pairs.loc[pairs["measure"] == spec.name, "value"].dropna()
        assert values.between(*spec.range).all(), spec.name
    means = pd.read_csv(folder / "pair_means.csv")
    assert len(means) == len(pairs) and (means["images"] == 1).all()
    assert (folder / "pair_matrix.png").stat().st_size > 0
    # each method against LIME as before, and its faithfulness and sanity check
    assert set(outcome.agreement["method"]) == set(METHODS)
    assert set(outcome.faithfulness["method"]) == {*METHODS, "lime", "random"}
    assert set(outcome.sanity["method"]) == {*METHODS, "lime"}
    original = outcome.sanity[outcome.sanity["step"] == 0]
    np.testing.assert_allclose(original[["spearman", "ssim"]], 1.0, atol=1e-6)

    record = CompareFindings.read(folder)
    assert record.pairs is not None and list(record.pairs.methods) == compared
    assert record.pairs.most != record.pairs.least
    assert record.pairs.most_value >= record.pairs.least_value
    text = (folder / "summary.txt").read_text()
    assert "Agreement between every two methods:" in text
    assert f"{record.pairs.most_value:+.2f}" in text


def test_report_4_shows_the_matrix_for_more_than_the_assignments_methods(pairs_run, tmp_path):
    from pypdf import PdfReader

    from explainlab.assignment.report import compare_report
    from explainlab.assignment.report.common import RunFacts

    run, _, _ = pairs_run
    pdf = compare_report.build(RunFacts.read(run), tmp_path / "4.pdf")
    report = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    assert "Agreement between every two methods" in report
    assert "compare/pair_means.csv" in report


def test_xl_agreement_gives_the_pairs_without_lime_and_on_request():
    from torch import nn

    import explainlab as xl

    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    x = torch.randn(2, 3, 32, 32)
    found = xl.explain(module, x, ["gradcam", "saliency", "inputxgradient"], layer="0")
    table = xl.agreement(found)  # no LIME: the pairs
    assert list(table.columns) == ["key", "method_a", "method_b", "measure", "value"]
    assert len(table) == 2 * 3 * len(measures("pair"))
    assert set(table["key"]) == {"image_0", "image_1"}
    again = xl.agreement(found, pairs=True, seed=0)
    pd.testing.assert_frame_equal(table, again)  # seeded: the same ties broken alike
    with pytest.raises(Exception, match="no LIME explanation"):
        xl.agreement(found, pairs=False)
    # with LIME given: against LIME by default (as before), its weight map a pair's on request
    limes = [_lime_of(e) for e in found]
    against = xl.agreement(found, limes)
    assert list(against.columns) == ["key", "method", "measure", "value"]
    assert set(against["method"]) == {"gradcam", "saliency", "inputxgradient"}
    with_lime = xl.agreement(found, limes, pairs=True)
    assert len(with_lime) == 2 * 6 * len(measures("pair"))  # 4 maps: 6 pairs
    assert "lime" in set(with_lime["method_a"]) | set(with_lime["method_b"])
    without = (with_lime["method_a"] != "lime") & (with_lime["method_b"] != "lime")
    pd.testing.assert_frame_equal(with_lime[without].reset_index(drop=True), table)


def _lime_of(explanation):
    """A LIME record of 8 x 8 squares on the explanation's crop, weighted by position."""
    from explainlab.explanation import LimeExplanation

    rows, cols = np.indices(explanation.crop.shape[:2]) // 8
    segments = (rows * 4 + cols).astype(np.int32)
    weights = [(int(s), float(s) - 7.5) for s in np.unique(segments)]
    return LimeExplanation(
        key=explanation.key,
        crop=explanation.crop,
        label=explanation.target,
        label_name=explanation.target_name,
        probability=0.5,
        segments=segments,
        weights=weights,
        mask=segments >= 12,
        num_features=4,
        params={},
        seconds=0.0,
    )


def test_the_sanity_check_has_an_explainer_of_every_attribution(tmp_path):
    """Each gradient and perturbation method as the sanity check runs it: a map on the
    crop, on a copy of a random ResNet18 (DeepLift's reused ReLUs, Guided Grad-CAM's
    layer found by name)."""
    import torchvision

    from explainlab.attributions.settings import AttributionSettings
    from explainlab.compare.explainers import attribution_explainer
    from explainlab.methods import method_names
    from test_compare_support import sample_of

    torch.manual_seed(0)
    module = torchvision.models.resnet18(num_classes=5).eval()
    crop = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    sample = sample_of("noise", crop, tmp_path / "noise.png")
    few = AttributionSettings(rise_masks=16, ig_steps=4, kernelshap_samples=8)
    for method in (*method_names("gradient"), *method_names("perturbation")):
        saliency = attribution_explainer(method, "layer4", few)(module, sample, 1)
        assert saliency.shape == (64, 64), method
        assert saliency.min() >= 0.0 and saliency.max() <= 1.0, method
