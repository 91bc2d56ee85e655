"""Known answers: a network whose evidence lies in one box (tests/helpers.py RedInBoxNet).

Every method's mask must overlap the box, the CAMs and LIME must agree with each other,
deletion in the maps' order must destroy the prediction far faster than a random order,
and the sanity check must tell a model-blind explainer from Grad-CAM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explainlab import masks
from explainlab.cam.methods import compute_cam
from explainlab.compare import sanity
from explainlab.compare.explainers import cam_explainer
from explainlab.compare.run import run_compare
from explainlab.compare.settings import CompareSettings
from explainlab.images import IMAGENET_GEOMETRY
from helpers import RedInBoxNet, red_patches_image
from test_compare_support import (
    classifier_fn,
    loaded,
    sample_of,
    write_cam_result,
    write_lime_result,
)

BOX, DISTRACTOR = (32, 32, 128, 128), (144, 144, 208, 208)
TARGET = 2
# Stated bounds (measured: CAM masks 0.997, LIME mask 0.87 with its top 10 superpixels,
# area-matched LIME 1.0; deletion AUC 0.25 for every map against 0.79 for random orders).
CAM_BOX_IOU, LIME_BOX_IOU, DELETION_RATIO = 0.9, 0.7, 0.5


def _box_mask() -> np.ndarray:
    mask = np.zeros((224, 224), dtype=bool)
    top, left, bottom, right = BOX
    mask[top:bottom, left:right] = True
    return mask


@pytest.fixture(scope="module")
def red_run(tmp_path_factory):
    """A run folder with the three CAMs and a LIME result of the red-box image, compared."""
    run = tmp_path_factory.mktemp("red-run")
    net = RedInBoxNet(BOX)
    model = loaded(net, "redinbox", 5, "features")
    crop = red_patches_image(BOX, DISTRACTOR)
    sample = sample_of("red", crop, run / "red.png")
    maps = {
        m: compute_cam(m, net, net.features, sample.tensor[None], TARGET, impl="library")
        for m in ("gradcam", "ablationcam", "scorecam")
    }
    prob = float(model.probabilities(sample.tensor[None])[0, TARGET])
    write_cam_result(run, "red", maps, TARGET, prob, sample.path)
    # LIME hides superpixels in black: hidden in their mean colour, a red patch stays red.
    write_lime_result(
        run,
        "red",
        crop,
        classifier_fn(net, IMAGENET_GEOMETRY),
        TARGET,
        num_samples=300,
        num_features=10,
        hide_color=0,
    )
    settings = CompareSettings(
        steps=16,
        random_repeats=3,
        insertion_substrate="mean",  # a blurred red patch is still red evidence
        sanity=False,
    )
    outcome = run_compare(settings, run, model=model, samples=[sample])
    return run, outcome, maps


def test_every_mask_overlaps_the_box(red_run):
    run, outcome, maps = red_run
    box = _box_mask()
    for method, saliency in maps.items():
        assert masks.iou(saliency >= 0.5, box) > CAM_BOX_IOU, method
    lime_mask = np.load(run / "lime" / "red" / "mask.npy")
    assert masks.iou(lime_mask, box) > LIME_BOX_IOU
    # The area-matched masks agree with each other as well as with the box.
    values = outcome.agreement.set_index(["method", "measure"])["value"]
    for method in maps:
        assert values[(method, "iou_area")] > LIME_BOX_IOU
        assert values[(method, "pointing_game")] == 1.0
        # Superpixels outside the box tie at CAM 0 with noisy LIME weights: a moderate rho
        # (measured 0.43-0.56), but far from chance.
        assert values[(method, "superpixel_rho")] > 0.3
        assert values[(method, "superpixel_p")] < 0.01
        assert values[(method, "iou_area")] > 3 * values[(method, "iou_area_chance")]


def test_deletion_auc_is_well_below_random(red_run):
    _, outcome, _ = red_run
    faith = outcome.faithfulness.set_index("method")
    random = faith.loc["random"]
    for method in ("gradcam", "ablationcam", "scorecam", "lime"):
        assert faith.loc[method, "deletion_auc"] < DELETION_RATIO * random["deletion_auc"], method
        assert faith.loc[method, "insertion_auc"] > random["insertion_auc"], method


def test_sanity_check_separates_a_model_blind_explainer(red_run):
    """An explainer that only looks at the image (its redness) keeps rho = 1 whatever the
    weights; Grad-CAM's map must change once the layers are randomised. (Not to zero: the
    network's fixed gate still confines channel 0 to the box, an architecture prior; measured
    rho 0.72 and SSIM 0.27 after the head is randomised.)"""
    net = RedInBoxNet(BOX)
    sample = sample_of("red", red_patches_image(BOX, DISTRACTOR), Path("red.png"))

    def redness(module, s, target):
        return s.crop[..., 0].astype(float) - s.crop[..., 1:].mean(-1)

    blocks = sanity.cascade_blocks(net)
    assert blocks == ["head.2", "features.0"]
    rows, maps = sanity.sanity_check(
        net,
        sample,
        TARGET,
        {"gradcam": cam_explainer("gradcam", "features", impl="library"), "redness": redness},
        blocks,
    )
    frame = pd.DataFrame([r.row() for r in rows]).set_index(["method", "step"])
    assert frame.loc[("redness", 2), "spearman"] == pytest.approx(1.0)
    assert frame.loc[("redness", 2), "ssim"] == pytest.approx(1.0)
    assert frame.loc[("gradcam", 0), "spearman"] == pytest.approx(1.0)
    assert frame.loc[("gradcam", 1), "spearman"] < 0.85
    assert frame.loc[("gradcam", 1), "ssim"] < 0.5
    assert len(maps["gradcam"]) == 3
    # The caller's network is untouched.
    assert net.head[2].weight[TARGET, 0].item() == 20.0


def test_stage_sanity_takes_given_explainers_beside_its_own(red_run):
    """The pipeline plugs in an explainer (here a model-blind one under the name 'lime');
    the CAM methods come from the stage's own explainers; the summary's verdicts follow."""
    run, _, _ = red_run
    net = RedInBoxNet(BOX)
    model = loaded(net, "redinbox", 5, "features")
    sample = sample_of("red", red_patches_image(BOX, DISTRACTOR), run / "red.png")

    def redness(module, s, target):
        return s.crop[..., 0].astype(float) - s.crop[..., 1:].mean(-1)

    settings = CompareSettings(faithfulness=False, sanity=True)
    outcome = run_compare(
        settings, run, model=model, samples=[sample], explainers={"lime": redness}
    )
    table = outcome.sanity
    assert set(table["method"]) == {"gradcam", "ablationcam", "scorecam", "lime"}
    assert list(table.drop_duplicates("step")["block"]) == ["original", "head.2", "features.0"]
    np.testing.assert_allclose(table.loc[table["method"] == "lime", "spearman"], 1.0)
    final = outcome.summary["sanity"]["final"]
    assert final["lime"]["verdict"] == "barely changes"
    assert final["gradcam"]["spearman"] < final["lime"]["spearman"]
    assert (run / "compare" / "sanity.png").is_file()
    assert (run / "compare" / "red" / "sanity.png").is_file()
