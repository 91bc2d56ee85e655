"""The CAM finding rules on hand-made tables: planted numbers give the expected
finding, the opposite numbers the opposite (or the 'not supported') one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explainlab.cam.findings import (
    CamTables,
    choose,
    gradcam_ablationcam,
    misclassified,
    resolution,
    scorecam,
    timing,
)

METHODS = ("gradcam", "ablationcam", "scorecam")
PAIRS = (("gradcam", "ablationcam"), ("gradcam", "scorecam"), ("ablationcam", "scorecam"))


def tables(
    n: int = 10,
    focus: tuple[float, float, float] = (0.2, 0.2, 0.2),
    broadest: tuple[int, int, int] = (3, 3, 4),
    narrowest: tuple[int, int, int] = (4, 3, 3),
    rho: tuple[float, float, float] = (0.95, 0.9, 0.9),
    seconds: tuple[float, float, float] = (0.1, 1.0, 10.0),
    grid: list[int] | None = (7, 7),
    wrong: int = 0,
) -> CamTables:
    methods = pd.DataFrame(
        {
            "method": METHODS,
            "focus_mean": focus,
            "focus_min": [f / 2 for f in focus],
            "focus_max": [f * 2 for f in focus],
            "broadest_images": broadest,
            "narrowest_images": narrowest,
            "seconds_mean": seconds,
            "seconds_total": [s * n for s in seconds],
            "times_fastest": [s / min(seconds) for s in seconds],
        }
    ).set_index("method", drop=False)
    pairs = pd.DataFrame(
        {
            "pair": [f"{a}/{b}" for a, b in PAIRS],
            "method_a": [a for a, _ in PAIRS],
            "method_b": [b for _, b in PAIRS],
            "rho_mean": rho,
            "rho_min": [r - 0.1 for r in rho],
            "rho_max": [min(1.0, r + 0.05) for r in rho],
            "iou_mean": [0.5] * 3,
            "peak_median": [10.0] * 3,
        }
    ).set_index("pair", drop=False)
    keys = [f"img{i}" for i in range(n)]
    images = pd.DataFrame({"key": keys, "rho_gradcam/ablationcam": np.linspace(0.5, 1, n)})
    images["rho_mean"] = images["rho_gradcam/ablationcam"]
    correct = [i >= wrong for i in range(n)]
    predictions = pd.DataFrame(
        {
            "key": keys,
            "true_id": range(n),
            "true_name": [f"class{i}" for i in range(n)],
            "top1_id": [i if ok else 999 for i, ok in enumerate(correct)],
            "top1_name": [f"class{i}" if ok else "wrong class" for i, ok in enumerate(correct)],
            "top1_prob": [0.9 if ok else 0.4 for ok in correct],
            "true_rank": [1.0 if ok else 3.0 for ok in correct],
            "correct": correct,
        }
    )
    predictions["target_id"] = predictions["top1_id"]
    crop = 224
    summary = {
        "images": n,
        "crop": [crop, crop],
        "grid": list(grid) if grid else None,
        "channels": 1280,
        "cell_px": crop / grid[0] if grid else None,
    }
    focus_rows = pd.DataFrame({"key": keys, "method": "gradcam", "focus": np.linspace(0.1, 0.3, n)})
    return CamTables(
        summary=summary,
        methods=methods,
        pairs=pairs,
        images=images,
        focus=focus_rows,
        predictions=predictions,
        layer="layer4.2",
        impls=dict.fromkeys(METHODS, "fast"),
        device="cpu",
        where="cam",
    )


def test_a_coarse_grid_gives_blobs_a_fine_one_detail_and_none_says_so():
    assert "blobs on a 7×7 grid" in resolution(tables()).claim
    assert "32 pixels per cell" in resolution(tables()).evidence
    fine = resolution(tables(grid=[56, 56]))
    assert "resolve detail down to about 4 pixels" in fine.claim
    assert "does not record" in resolution(tables(grid=None)).claim


def test_scorecam_broader_on_most_images_is_called_broader():
    f = scorecam(tables(focus=(0.2, 0.2, 0.35), broadest=(1, 1, 8), narrowest=(5, 5, 0)))
    assert "ScoreCAM's maps are broader than the others'" in f.claim
    assert "broadest on 8, narrowest on 0 of 10 images" in f.evidence
    assert "softmax" in f.reason and "spreads" in f.reason


def test_scorecam_narrower_on_most_images_is_called_narrower():
    f = scorecam(tables(focus=(0.3, 0.3, 0.1), broadest=(5, 5, 0), narrowest=(1, 1, 8)))
    assert "ScoreCAM's maps are narrower than the others'" in f.claim
    assert "shrinks" in f.reason


def test_a_mean_difference_not_seen_on_most_images_is_not_a_finding():
    # broader on average, but broadest on only half of the images
    f = scorecam(tables(focus=(0.2, 0.2, 0.3), broadest=(2, 3, 5), narrowest=(4, 3, 3)))
    assert "no broader or narrower" in f.claim
    assert "no consistent direction" in f.reason
    few = scorecam(tables(n=2, focus=(0.2, 0.2, 0.3), broadest=(0, 0, 2), narrowest=(1, 1, 0)))
    assert "cannot be called broader or narrower" in few.claim and "too few" in few.reason


def test_scorecam_set_apart_only_by_a_clear_gap_in_agreement():
    apart = scorecam(tables(rho=(0.95, 0.6, 0.65)))
    assert "agree less with them" in apart.claim
    close = scorecam(tables(rho=(0.95, 0.93, 0.94)))
    assert "as well as those agree" in close.claim


def test_gradcam_and_ablationcam_agreement_is_graded():
    assert "nearly the same maps" in gradcam_ablationcam(tables(rho=(0.9, 0.5, 0.5))).claim
    assert "similar maps" in gradcam_ablationcam(tables(rho=(0.6, 0.5, 0.5))).claim
    low = gradcam_ablationcam(tables(rho=(0.3, 0.5, 0.5)))
    assert "different maps" in low.claim and "lowest on img0" in low.evidence
    assert "drop" in low.reason and "gradient" in low.reason


def test_misclassified_images_are_named_with_the_class_their_maps_explain():
    f = misclassified(tables(wrong=2))
    assert f.claim.startswith("2 of 10 images are misclassified")
    assert "img0 is taken for wrong class (40%; true class at rank 3)" in f.evidence
    assert "wrong class" in f.reason
    assert misclassified(tables(wrong=0)).claim.startswith("All 10 images are classified correctly")


def test_timing_names_the_slowest_and_its_factor():
    f = timing(tables(seconds=(0.1, 1.0, 10.0)))
    assert f.claim.startswith("ScoreCAM is the slowest, ×100 the time of Grad-CAM")
    assert "Grad-CAM 0.10 s, AblationCAM 1.00 s, ScoreCAM 10.00 s" in f.evidence
    f = timing(tables(seconds=(2.0, 1.0, 1.5)))
    assert f.claim.startswith("Grad-CAM is the slowest, ×2.0 the time of AblationCAM")


def test_three_to_five_findings():
    assert 3 <= len(choose(tables())) <= 5
