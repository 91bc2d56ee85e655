"""Faithfulness of maps against the model, each measure over a :class:`ModelBatch` and
one value per image: ROAD (Rong et al., 2022) removing the most or least relevant pixels,
the drop and increase in confidence on the image weighted by the map (Chattopadhay et
al., Grad-CAM++, 2018), faithfulness correlation (Bhatt et al., 2020), monotonicity
correlation (Nguyen & Martínez, 2020) and infidelity (Yeh et al., 2019).

The model's output is the softmax probability of the explained class throughout. Each
measure's test checks it against the library named in its ``reference``, with the same
random draws (the seed is the batch's)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explainlab.measures.batch import ModelBatch, normalise_by_max, probabilities
from explainlab.measures.registry import measure

TESTS = "tests/test_measures_model.py"
PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)  # pytorch-grad-cam's ROAD averages


def _road(batch: ModelBatch, percentiles: Sequence[float], most_relevant: bool, noise: float):
    """Mean over ``percentiles`` of p(imputed image) - p(image), imputing the pixels at or
    above the percentile of the map (most relevant first) or of 1 - map (least relevant
    first), as pytorch-grad-cam's ROAD metrics do."""
    import torch
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    imputer = NoisyLinearImputer(noise=noise)
    maps = batch.maps.astype(np.float32)
    ranks = maps if most_relevant else 1 - maps
    images = batch.inputs.detach().cpu()
    imputed = []
    with torch.random.fork_rng(devices=[]):  # the imputer's noise, without touching ours
        torch.manual_seed(batch.seed)
        for p in percentiles:
            for image, rank in zip(images, ranks, strict=True):
                keep = np.float32(rank < np.percentile(rank, p))
                imputed.append(imputer(image, torch.from_numpy(keep)))
    imputed = torch.stack(imputed).to(batch.inputs.device)
    before = probabilities(batch.model, batch.inputs, batch.targets)
    after = probabilities(batch.model, imputed, np.tile(batch.targets, len(percentiles)))
    return (after.reshape(len(percentiles), -1) - before).mean(axis=0)


@measure(
    name="road_morf",
    title="ROAD, most relevant first",
    short="ROAD MoRF",
    compares="model",
    direction="lower",
    range=(-1.0, 1.0),
    reference="pytorch_grad_cam.metrics.road:ROADMostRelevantFirstAverage",
    test=f"{TESTS}::test_road_equals_pytorch_grad_cam",
)
def road_morf(
    batch: ModelBatch, *, percentiles: Sequence[float] = PERCENTILES, noise: float = 0.01
) -> np.ndarray:
    """Change in probability when the map's top pixels are imputed from their neighbours
    (noisy linear imputation), averaged over removing the top 90%, 80%, ... 10%: a
    faithful map makes it fall."""
    return _road(batch, percentiles, most_relevant=True, noise=noise)


@measure(
    name="road_lerf",
    title="ROAD, least relevant first",
    short="ROAD LeRF",
    compares="model",
    direction="higher",
    range=(-1.0, 1.0),
    reference="pytorch_grad_cam.metrics.road:ROADLeastRelevantFirstAverage",
    test=f"{TESTS}::test_road_equals_pytorch_grad_cam",
)
def road_lerf(
    batch: ModelBatch, *, percentiles: Sequence[float] = PERCENTILES, noise: float = 0.01
) -> np.ndarray:
    """The same, imputing the map's bottom pixels and keeping its top 10%, 20%, ... 90%:
    a faithful map keeps the probability."""
    return _road(batch, percentiles, most_relevant=False, noise=noise)


def _weighted_by_map(batch: ModelBatch) -> tuple[np.ndarray, np.ndarray]:
    """p(image) and p(image x map), the (normalised) image multiplied by the map."""
    import torch

    maps = torch.from_numpy(batch.maps.astype(np.float32)).to(batch.inputs.device)
    weighted = batch.inputs * maps[:, None]
    return (
        probabilities(batch.model, batch.inputs, batch.targets),
        probabilities(batch.model, weighted, batch.targets),
    )


@measure(
    name="confidence_drop",
    title="drop in confidence",
    short="drop",
    compares="model",
    direction="lower",
    range=(0.0, 1.0),
    reference="pytorch_grad_cam.metrics.cam_mult_image:DropInConfidence",
    test=f"{TESTS}::test_confidence_change_equals_pytorch_grad_cam",
)
def confidence_drop(batch: ModelBatch) -> np.ndarray:
    """max(0, p - p') / p, p' the probability of the image multiplied by the map: its mean
    over images is Grad-CAM++'s "average drop" (as a share, not a percent)."""
    before, after = _weighted_by_map(batch)
    return np.maximum(before - after, 0.0) / before


@measure(
    name="confidence_increase",
    title="increase in confidence",
    short="increase",
    compares="model",
    direction="higher",
    range=(0.0, 1.0),
    reference="pytorch_grad_cam.metrics.cam_mult_image:IncreaseInConfidence",
    test=f"{TESTS}::test_confidence_change_equals_pytorch_grad_cam",
    image_format=".0f",
)
def confidence_increase(batch: ModelBatch) -> np.ndarray:
    """1 if the image multiplied by the map is more probable than the image, else 0: its
    mean over images is Grad-CAM++'s "increase in confidence"."""
    before, after = _weighted_by_map(batch)
    return np.float64(after > before)


def _features(batch: ModelBatch) -> tuple[np.ndarray, np.ndarray]:
    """The inputs flattened to (N, 3HW) features and the normalised maps broadcast over
    the channels likewise: Quantus' features are (channel, pixel) entries."""
    x = batch.inputs.detach().cpu().double().numpy()
    maps = normalise_by_max(batch.maps)
    return x.reshape(len(x), -1), np.broadcast_to(maps[:, None], x.shape).reshape(len(x), -1)


def _predict(batch: ModelBatch, features: np.ndarray) -> np.ndarray:
    import torch

    x = torch.from_numpy(features.reshape(batch.inputs.shape)).to(batch.inputs)
    return probabilities(batch.model, x, batch.targets)


def _rowwise(a: np.ndarray, b: np.ndarray, rank: bool) -> np.ndarray:
    """Pearson's (or, ranking first, Spearman's) correlation of each row of a with b's."""
    from scipy import stats

    if rank:
        a, b = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    return np.array(
        [
            stats.pearsonr(u, v)[0] if np.ptp(u) and np.ptp(v) else np.nan
            for u, v in zip(a, b, strict=True)
        ]
    )


def random_subsets(n: int, features: int, size: int, runs: int, seed: int) -> np.ndarray:
    """The (runs, N, size) feature indices faithfulness correlation removes, each row a
    draw without replacement."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [[rng.choice(features, size, replace=False) for _ in range(n)] for _ in range(runs)]
    )


@measure(
    name="faithfulness_correlation",
    title="faithfulness correlation",
    short="faith corr",
    compares="model",
    direction="higher",
    range=(-1.0, 1.0),
    reference="quantus:FaithfulnessCorrelation",
    test=f"{TESTS}::test_faithfulness_correlation_equals_quantus",
)
def faithfulness_correlation(
    batch: ModelBatch, *, runs: int = 100, subset_size: int = 224
) -> np.ndarray:
    """Pearson's correlation, over random subsets of features set to the image's minimum,
    between the map's sum over the subset and the fall in probability it causes."""
    x, a = _features(batch)
    n = len(x)
    before = _predict(batch, x)
    rows = np.arange(n)[:, None]
    sums, falls = [], []
    for subset in random_subsets(n, x.shape[1], subset_size, runs, batch.seed):
        perturbed = x.copy()
        perturbed[rows, subset] = x.min(axis=1, keepdims=True)
        falls.append(before - _predict(batch, perturbed))
        sums.append(a[rows, subset].sum(axis=1))
    return _rowwise(np.stack(sums, axis=1), np.stack(falls, axis=1), rank=False)


@measure(
    name="monotonicity_correlation",
    title="monotonicity correlation",
    short="monotonic",
    compares="model",
    direction="higher",
    range=(-1.0, 1.0),
    reference="quantus:MonotonicityCorrelation",
    test=f"{TESTS}::test_monotonicity_correlation_equals_quantus",
)
def monotonicity_correlation(
    batch: ModelBatch, *, features_in_step: int | None = None, samples: int = 10
) -> np.ndarray:
    """Spearman's correlation, over groups of features in the map's ascending order,
    between the map's sum over a group and the mean squared change in probability when
    the group is set to a uniform random value (relative to the probability squared).
    ``features_in_step`` (default: an eighth of the pixels) must divide H x W."""
    x, a = _features(batch)
    n, size = x.shape
    step = features_in_step or size // 3 // 8
    before = _predict(batch, x)
    scale = np.where(np.abs(before) >= 1e-5, 1.0 / np.abs(before), 1.0) ** 2
    order = np.argsort(a, axis=1)
    rng = np.random.default_rng(batch.seed)
    values = rng.uniform(size=(size // step, samples, n))
    rows = np.arange(n)[:, None]
    sums, changes = [], []
    for k, draws in enumerate(values):
        group = order[:, k * step : (k + 1) * step]
        squares = []
        for value in draws:
            perturbed = x.copy()
            perturbed[rows, group] = value[:, None]
            squares.append((_predict(batch, perturbed) - before) ** 2)
        changes.append(np.mean(squares, axis=0) * scale)
        sums.append(a[rows, group].sum(axis=1))
    return _rowwise(np.stack(sums, axis=1), np.stack(changes, axis=1), rank=True)


def infidelity_perturbations(batch: ModelBatch, samples: int, removed: float):
    """The (N * samples, 3, H, W) perturbations infidelity subtracts, image by image
    (captum's order: each image repeated ``samples`` times): the image on a random
    ``removed`` share of its pixels (all channels), zero elsewhere, so that subtracting
    one sets those pixels to zero, the dataset's mean once normalised."""
    import torch

    generator = torch.Generator().manual_seed(batch.seed)
    n, _, h, w = batch.inputs.shape
    chosen = torch.rand((n * samples, 1, h, w), generator=generator) < removed
    return batch.inputs.repeat_interleave(samples, dim=0) * chosen.to(batch.inputs)


@measure(
    name="infidelity",
    title="infidelity",
    compares="model",
    direction="lower",
    range=(0.0, 1.0),
    reference="captum.metrics:infidelity",
    test=f"{TESTS}::test_infidelity_equals_captum",
)
def infidelity(batch: ModelBatch, *, samples: int = 10, removed: float = 0.25) -> np.ndarray:
    """Mean squared error between the map's sum over a perturbation I (weighted by I: the
    image on a random quarter of its pixels) and the fall in probability when I is
    subtracted (those pixels removed), the map scaled by the best factor (captum's
    ``normalize=True``: a map in [0, 1] has no output scale)."""
    import torch

    perturbations = infidelity_perturbations(batch, samples, removed)
    n = len(batch.inputs)
    repeated = batch.inputs.repeat_interleave(samples, dim=0)
    targets = np.repeat(batch.targets, samples)
    falls = probabilities(batch.model, batch.inputs, batch.targets).repeat(samples) - (
        probabilities(batch.model, repeated - perturbations, targets)
    )
    maps = torch.from_numpy(np.asarray(batch.maps, dtype=np.float64)).to(perturbations.device)
    weighted = maps.repeat_interleave(samples, dim=0)[:, None] * perturbations.double()
    sums = weighted.sum((1, 2, 3)).cpu().numpy().reshape(n, samples)
    falls = falls.reshape(n, samples)
    aa, af, ff = (sums * sums).sum(1), (sums * falls).sum(1), (falls * falls).sum(1)
    beta = np.divide(af, aa, out=np.zeros_like(af), where=aa != 0)
    return (beta * beta * aa - 2 * beta * af + ff) / samples
