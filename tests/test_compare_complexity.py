"""Complexity measures on built images, and the "do simple images agree more?" paragraph
generated from planted numbers (it must follow the numbers, whichever way they go)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explainlab.compare import complexity
from explainlab.compare.settings import CompareSettings
from explainlab.errors import ConfigError
from explainlab.settings import from_table


def test_colour_entropy_known_values():
    flat = np.full((32, 32, 3), 77, np.uint8)
    assert complexity.colour_entropy(flat, 8) == 0.0
    halves = flat.copy()
    halves[:16] = 200  # two colours, half each: one bit
    assert complexity.colour_entropy(halves, 8) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert complexity.colour_entropy(noise, 8) == pytest.approx(9.0, abs=0.01)  # 512 bins


def test_edge_density_grows_with_clutter():
    flat = np.full((224, 224, 3), 120, np.uint8)
    stripes = flat.copy()
    for i in range(0, 224, 32):
        stripes[i : i + 16, :] = 250
    assert complexity.edge_density(flat, 2.0) == 0.0
    # 13 horizontal edges (rows 16, 32, ...), one pixel thick each, across 224 columns.
    assert complexity.edge_density(stripes, 2.0) == pytest.approx(13 / 224, rel=0.1)


def test_superpixel_count_is_that_of_limes_default_segmentation():
    from lime.lime_image import LimeImageExplainer

    rng = np.random.default_rng(0)
    crop = np.clip(rng.normal(120, 50, (224, 224, 3)), 0, 255).astype(np.uint8)
    crop[40:150, 60:170] = (200, 40, 40)
    explanation = LimeImageExplainer(random_state=0).explain_instance(
        crop,
        lambda images: np.tile([0.5, 0.5], (len(images), 1)),
        labels=(1,),
        top_labels=None,
        num_samples=2,
        random_seed=3,
    )
    assert complexity.quickshift_count(crop, 3) == np.unique(explanation.segments).size


def test_critical_rho_matches_the_exact_table():
    # Exact two-sided 5% critical values of Spearman's rho: n=10 -> 0.648, n=30 -> 0.362;
    # the t approximation is within 0.02.
    assert complexity.critical_rho(10) == pytest.approx(0.648, abs=0.02)
    assert complexity.critical_rho(30) == pytest.approx(0.362, abs=0.01)
    assert np.isnan(complexity.critical_rho(3))


def _planted(sign_entropy: int, n: int = 10) -> tuple[pd.DataFrame, pd.Series]:
    """Complexity where colour entropy tracks IoU (sign +1: more colours agree more)."""
    rng = np.random.default_rng(1)
    keys = [f"img{i}" for i in range(n)]
    iou = pd.Series(np.linspace(0.1, 0.8, n), index=keys)
    frame = pd.DataFrame(
        {
            "key": keys,
            "object_area": rng.random(n),
            "n_superpixels": rng.integers(20, 80, n),
            "edge_density": rng.random(n) * 0.2,
            "colour_entropy": 5 + sign_entropy * iou.to_numpy() * 3,
            "top1_prob": rng.random(n),
        }
    )
    return frame, iou


@pytest.mark.parametrize("sign", [-1, +1])
def test_answer_follows_the_numbers(sign):
    frame, iou = _planted(sign)
    corr = complexity.correlations(frame, {"gradcam": iou})
    row = corr.set_index("measure").loc["colour_entropy"]
    assert row["rho"] == pytest.approx(sign * 1.0) and row["p"] < 1e-6
    result = complexity.answer(corr, iou, "Grad-CAM")
    assert "colour_entropy" in result.significant
    if sign < 0:  # fewer colours, more agreement: simpler agrees more
        assert "colour_entropy" in result.supporting
        assert result.verdict in ("partly", "yes", "mixed")
        assert "go with higher agreement" in result.paragraph
    else:  # more colours, more agreement: the other way
        assert "colour_entropy" not in result.supporting
        assert result.verdict in ("no", "mixed")
        assert "goes the other way" in result.paragraph or "with lower" in result.paragraph
    assert f"rho = {sign * 1.0:+.2f}" in result.paragraph
    assert "10 images are few" in result.paragraph and "0.6" in result.paragraph


def test_answer_with_no_relation_says_no():
    rng = np.random.default_rng(5)
    keys = [f"img{i}" for i in range(10)]
    frame = pd.DataFrame({"key": keys} | {m: rng.permutation(10) for m in complexity.SIMPLER_WHEN})
    iou = pd.Series(np.linspace(0.2, 0.6, 10), index=keys)
    corr = complexity.correlations(frame, {"gradcam": iou})
    result = complexity.answer(corr, iou, "Grad-CAM")
    if (corr["p"] < 0.05).any():  # the permutations happened to correlate: pick another seed
        pytest.skip("planted noise correlated by chance")
    assert result.verdict == "no" and not result.significant


def test_answer_with_too_few_images_is_undetermined():
    frame, iou = _planted(-1, n=3)
    corr = complexity.correlations(frame, {"gradcam": iou})
    assert corr["rho"].isna().all() and corr["p"].isna().all()
    result = complexity.answer(corr, iou, "Grad-CAM")
    assert result.verdict == "undetermined" and "3 image(s)" in result.paragraph


def test_settings_are_validated():
    assert from_table(CompareSettings, {"threshold": 0.4}, "t").threshold == 0.4
    for bad in (
        {"threshold": 1.5},
        {"sweep": [0.5, 0.2]},
        {"cam_methods": ["gradcam++"]},
        {"deletion_substrate": "noise"},
        {"steps": 1},
        {"sanity_methods": ["shap"]},
        {"unknown": 1},
    ):
        with pytest.raises(ConfigError):
            from_table(CompareSettings, bad, "[compare]")


def test_run_config_has_a_compare_table(tmp_path):
    from explainlab.config import load_config

    path = tmp_path / "run.toml"
    path.write_text('[compare]\nsteps = 8\nsanity = false\nsanity_methods = ["gradcam"]\n')
    config = load_config(path)
    assert config.compare.steps == 8 and config.compare.sanity is False
    assert config.to_dict()["compare"]["sanity_methods"] == ["gradcam"]
