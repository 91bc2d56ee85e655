"""CLIP-Dissect's similarity functions against hand-computed values and a literal,
loop-by-loop transcription of the formulas of the issue (tolerance 1e-5 relative)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from explainlab.dissect.settings import SIMILARITY_PARAMS, DissectSettings
from explainlab.dissect.similarity import (
    SIMILARITY_FUNCTIONS,
    DenseScores,
    FactoredScores,
    compute_similarity,
    cos_similarity,
    cos_similarity_cubed,
    rank_reorder,
    soft_wpmi,
    wpmi,
)
from explainlab.errors import ConfigError, InputError

LN3 = math.log(3.0)


def _two_images():
    # a = 1: softmax([ln 3, 0]) = [3/4, 1/4]; softmax([0, ln 3]) = [1/4, 3/4]
    scores = DenseScores(torch.tensor([[LN3, 0.0], [0.0, LN3]]))
    # unit 0's top image is image 0, unit 1's is image 1
    acts = torch.tensor([[2.0, 0.0], [1.0, 5.0]])
    return scores, acts


def test_soft_wpmi_hand_computed_top1():
    scores, acts = _two_images()
    out = soft_wpmi(scores, acts, top_k=1, a=1.0, lam=1.0, min_prob=0.0, p_start=1.0, p_end=0.5)
    # log P(c|u0) = [log 3/4, log 1/4], u1 = [log 1/4, log 3/4]; log P(c) = log 1/2
    expected = torch.tensor(
        [[math.log(1.5), math.log(0.5)], [math.log(0.5), math.log(1.5)]], dtype=torch.float32
    )
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)


def test_soft_wpmi_hand_computed_weights_and_lambda():
    scores, acts = _two_images()
    # top_k = 2: weights p_0 = 0.9, p_1 = 0.9 - (1/2)(0.9 - 0.5) = 0.7
    out = soft_wpmi(scores, acts, top_k=2, a=1.0, lam=0.5, min_prob=0.0, p_start=0.9, p_end=0.5)
    # unit 0 ranks image 0 then 1; unit 1 ranks image 1 then 0
    u0 = [
        math.log(1 + 0.9 * (0.75 - 1)) + math.log(1 + 0.7 * (0.25 - 1)),
        math.log(1 + 0.9 * (0.25 - 1)) + math.log(1 + 0.7 * (0.75 - 1)),
    ]
    u1 = [u0[1], u0[0]]
    prior = [math.log((math.exp(u0[c]) + math.exp(u1[c])) / 2) for c in range(2)]
    expected = torch.tensor([[u[c] - 0.5 * prior[c] for c in range(2)] for u in (u0, u1)])
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)


def test_wpmi_hand_computed():
    scores, acts = _two_images()
    out = wpmi(scores, acts, top_k=2, a=1.0, lam=0.6, min_prob=1e-7)
    # both images in both units' top 2: log P(c|u) = log(3/4 + 1e-7) + log(1/4 + 1e-7)
    given = math.log(0.75 + 1e-7) + math.log(0.25 + 1e-7)
    expected = torch.full((2, 2), given - 0.6 * given)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)


def test_cos_similarity_hand_computed():
    scores = DenseScores(torch.tensor([[1.0, 2.0], [1.0, 0.0], [0.0, 0.0]]))
    acts = torch.tensor([[1.0], [0.0], [1.0]])
    out = cos_similarity(scores, acts)
    # unit [1,0,1]; concept 0 [1,1,0]: 1/(√2·√2) = 0.5; concept 1 [2,0,0]: 2/(√2·2)
    torch.testing.assert_close(out, torch.tensor([[0.5, 1 / math.sqrt(2)]]))


def test_cos_similarity_cubed_hand_computed():
    scores = DenseScores(torch.tensor([[1.0], [2.0], [3.0]]))
    acts = torch.tensor([[0.0], [0.0], [3.0]])
    out = cos_similarity_cubed(scores, acts)
    # unit centred [-1,-1,2] cubed [-1,-1,8]; concept centred [-1,0,1] cubed [-1,0,1]
    torch.testing.assert_close(out, torch.tensor([[9 / math.sqrt(66 * 2)]]))


def test_rank_reorder_hand_computed_ratios():
    # one unit, activations 3 > 2 > 1 on images 0, 1, 2; top_fraction 1: all three
    acts = torch.tensor([[3.0], [2.0], [1.0]])
    concepts = torch.tensor(
        [
            [0.9, 0.5, 0.1],  # concept 0 ranks the images like the unit: no error
            [0.1, 0.5, 0.9],  # concept 1 reverses the ranking
            [0.5, 0.9, 0.1],  # concept 2 swaps the top two
        ]
    )
    out = rank_reorder(DenseScores(concepts.T), acts, p=3.0, top_fraction=1.0, scale_p=0.5)
    assert out[0, 0] == 0.0
    # concept 1: activations by score rank [1, 2, 3] against [3, 2, 1]: error (8+0+8)/3
    # concept 2: ranks [1, 2, 0] -> [2, 3, 1] against [3, 2, 1]: error (1+1+0)/3
    # same mean score 0.5 and the same per-unit random baseline: the ratio is 8
    assert float(out[0, 1] / out[0, 2]) == pytest.approx(8.0, rel=1e-6)
    assert out[0, 1] < out[0, 2] < 0
    # the mean score divides the error by its square root (scale_p = 0.5)
    halved = rank_reorder(DenseScores(concepts.T / 4), acts, top_fraction=1.0)
    assert float(halved[0, 1]) == pytest.approx(2.0 * float(out[0, 1]), rel=1e-6)


# --- a literal transcription of the formulas, loop by loop --------------------------------


def _literal_pmi(clip, acts, top_k, a, lam, min_prob, weights):
    n_images, n_concepts = clip.shape
    probs = np.exp(a * clip) / np.exp(a * clip).sum(axis=1, keepdims=True)
    n_units = acts.shape[1]
    given = np.zeros((n_units, n_concepts))
    for u in range(n_units):
        order = sorted(range(n_images), key=lambda i: -acts[i, u])[:top_k]
        for c in range(n_concepts):
            given[u, c] = sum(
                math.log(1 + weights[i] * (probs[img, c] - 1) + min_prob)
                for i, img in enumerate(order)
            )
    prior = np.log(np.exp(given).sum(axis=0) / n_units)
    return given - lam * prior


def _literal_cos(clip, acts):
    out = np.zeros((acts.shape[1], clip.shape[1]))
    for u in range(acts.shape[1]):
        for c in range(clip.shape[1]):
            x, y = acts[:, u], clip[:, c]
            out[u, c] = x @ y / (np.linalg.norm(x) * np.linalg.norm(y))
    return out


def _random_problem(seed=0, n_images=40, n_concepts=7, n_units=5, dim=6):
    rng = np.random.default_rng(seed)
    image_feats = rng.normal(size=(n_images, dim))
    text_feats = rng.normal(size=(n_concepts, dim))
    acts = rng.gamma(2.0, size=(n_images, n_units))  # continuous: no ties in the top-k
    norm = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    clip = norm(image_feats) @ norm(text_feats).T
    return image_feats, text_feats, acts, clip


@pytest.mark.parametrize("memory_mb", [512, 1e-4])  # 1e-4 MB: one unit / row per chunk
def test_soft_wpmi_matches_literal_formula(memory_mb):
    image_feats, text_feats, acts, clip = _random_problem()
    top_k, p_start, p_end = 9, 0.998, 0.97
    weights = [p_start - (i / top_k) * (p_start - p_end) for i in range(top_k)]
    expected = _literal_pmi(clip, acts, top_k, 10.0, 1.0, 1e-7, weights)
    scores = FactoredScores(torch.tensor(image_feats), torch.tensor(text_feats))
    out = soft_wpmi(scores, torch.tensor(acts), top_k=top_k, memory_mb=memory_mb)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_wpmi_matches_literal_formula():
    image_feats, text_feats, acts, clip = _random_problem(seed=1)
    expected = _literal_pmi(clip, acts, 7, 2.0, 0.6, 1e-7, [1.0] * 7)
    scores = FactoredScores(torch.tensor(image_feats), torch.tensor(text_feats))
    out = wpmi(scores, torch.tensor(acts), top_k=7, memory_mb=1e-4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_cosine_functions_match_literal_formula():
    image_feats, text_feats, acts, clip = _random_problem(seed=2)
    scores = FactoredScores(torch.tensor(image_feats), torch.tensor(text_feats))
    out = cos_similarity(scores, torch.tensor(acts), memory_mb=1e-4)
    np.testing.assert_allclose(out.numpy(), _literal_cos(clip, acts), rtol=1e-5, atol=1e-6)
    centred = lambda m: (m - m.mean(axis=0)) ** 3  # noqa: E731
    cubed = cos_similarity_cubed(scores, torch.tensor(acts), memory_mb=1e-4)
    np.testing.assert_allclose(
        cubed.numpy(), _literal_cos(centred(clip), centred(acts)), rtol=1e-4, atol=1e-5
    )


def test_factored_scores_equal_the_dense_matrix():
    image_feats, text_feats, _, clip = _random_problem(seed=3)
    scores = FactoredScores(torch.tensor(image_feats), torch.tensor(text_feats))
    rows = torch.tensor([3, 0, 3])
    np.testing.assert_allclose(
        scores.block(rows, slice(2, 5)).numpy(), clip[[3, 0, 3], 2:5], atol=1e-6
    )


def test_every_function_labels_a_planted_unit():
    # unit u follows concept u exactly: every function must put concept u first
    _, _, _, clip = _random_problem(seed=4, n_images=60)
    clip = 0.25 + 0.1 * clip  # the range of real CLIP cosine similarities
    acts = torch.tensor(clip[:, :5] * 3.0 + 1.0)
    for name in SIMILARITY_FUNCTIONS:
        # 5% of 60 images is 3: too few to tell concepts apart by ranking, so 50% here
        params = {"top_k": 20} if "wpmi" in name else {}
        params = {"top_fraction": 0.5} if name == "rank_reorder" else params
        out = compute_similarity(name, DenseScores(torch.tensor(clip)), acts, params)
        assert out.shape == (5, 7), name
        assert out.argmax(dim=1).tolist() == [0, 1, 2, 3, 4], name


def test_defaults_are_the_reference_ones():
    for name, fn in SIMILARITY_FUNCTIONS.items():
        signature = inspect.signature(fn).parameters
        for param, value in SIMILARITY_PARAMS[name].items():
            assert signature[param].default == value, (name, param)
    assert SIMILARITY_PARAMS["soft_wpmi"] == {
        "top_k": 100,
        "a": 10.0,
        "lam": 1.0,
        "min_prob": 1e-7,
        "p_start": 0.998,
        "p_end": 0.97,
    }
    assert SIMILARITY_PARAMS["wpmi"] == {"top_k": 28, "a": 2.0, "lam": 0.6, "min_prob": 1e-7}


def test_top_k_larger_than_the_probe_set_is_a_clear_error():
    scores, acts = _two_images()
    with pytest.raises(
        ConfigError, match=r"needs 100 probe images per unit but the probe set has 2"
    ):
        soft_wpmi(scores, acts)
    with pytest.raises(ConfigError, match="probe set has 2"):
        rank_reorder(scores, acts)  # 5% of 2 images is no image


def test_shape_errors_and_unknown_names():
    scores, acts = _two_images()
    with pytest.raises(InputError, match="3 images of activations but 2"):
        cos_similarity(scores, torch.zeros(3, 2))
    with pytest.raises(InputError, match="images x units"):
        cos_similarity(scores, torch.zeros(2))
    with pytest.raises(InputError, match="NaN"):
        cos_similarity(scores, torch.tensor([[1.0], [math.nan]]))
    with pytest.raises(InputError, match="different CLIP models"):
        FactoredScores(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ConfigError, match="choose one of soft_wpmi"):
        compute_similarity("pmi", scores, acts)
    with pytest.raises(ConfigError, match="unknown parameter"):
        compute_similarity("cos_similarity", scores, acts, {"top_k": 3})
    with pytest.raises(ValueError, match="unknown for wpmi"):
        DissectSettings(similarity="wpmi", similarity_params={"p_start": 0.9}).validate()


def test_dead_unit_gets_zero_not_nan():
    scores = DenseScores(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    out = cos_similarity(scores, torch.zeros(2, 1))
    assert torch.equal(out, torch.zeros(1, 2))
