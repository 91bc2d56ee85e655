"""The batched measures (against the model, the method re-run, a map alone, a region):
each equals its reference library on the same small inputs and the same random draws
(a random-weight ResNet-18 at 32 px, three images), within the tolerance stated; and on
a planted model (evidence in a known box) a map marking the box scores better than a
random map on every faithfulness and localisation measure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explainlab.measures import get_measure, measures
from explainlab.measures.batch import ModelBatch
from explainlab.measures.localisation import box_masks
from explainlab.measures.model_faithfulness import infidelity_perturbations, random_subsets
from explainlab.measures.randomisation import other_classes
from explainlab.measures.robustness import sensitivity_noise
from helpers import RedInBoxNet, imagenet_tensor, red_patches_image

pytestmark = pytest.mark.usefixtures("one_thread")

N, SIZE, CLASSES, SEED = 3, 32, 10, 7
FLOAT32 = 1e-5  # the libraries compute in float32, the measures mostly in float64


def saliency(model, inputs, targets) -> np.ndarray:
    """|gradient| of the class logit, max over channels, each map scaled to a maximum of 1
    (a cheap method; explainlab's maps peak at 1, so Quantus' batch-wide normalisation by
    the maximum is each map's own)."""
    with torch.enable_grad():
        x = inputs.detach().clone().requires_grad_(True)
        logits = model(x)
        picked = logits[torch.arange(len(x)), torch.as_tensor(np.asarray(targets))]
        (grad,) = torch.autograd.grad(picked.sum(), x)
    maps = grad.abs().amax(dim=1).double().numpy()
    return maps / maps.reshape(len(maps), -1).max(axis=1)[:, None, None]


@pytest.fixture(scope="module")
def batch() -> ModelBatch:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=CLASSES).eval()
    inputs = torch.randn(N, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    targets = np.array([1, 4, 9])
    return ModelBatch(
        model=model,
        inputs=inputs,
        maps=saliency(model, inputs, targets),
        targets=targets,
        explain=saliency,
        seed=SEED,
    )


def softmax_targets(targets):
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    return [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]


def test_road_equals_pytorch_grad_cam(batch):
    """ROADMostRelevantFirstAverage / ROADLeastRelevantFirstAverage with the softmax target;
    the imputer's noise drawn from torch's generator seeded alike."""
    from pytorch_grad_cam.metrics.road import (
        ROADLeastRelevantFirstAverage,
        ROADMostRelevantFirstAverage,
    )

    percentiles = [20, 50, 80]
    cams = batch.maps.astype(np.float32)
    for name, reference in (
        ("road_morf", ROADMostRelevantFirstAverage),
        ("road_lerf", ROADLeastRelevantFirstAverage),
    ):
        torch.manual_seed(SEED)
        expected = reference(percentiles)(
            batch.inputs, cams, softmax_targets(batch.targets), batch.model
        )
        ours = get_measure(name).compute(batch, percentiles=percentiles)
        assert ours.shape == (N,)
        np.testing.assert_allclose(ours, expected, atol=FLOAT32, err_msg=name)


def test_confidence_change_equals_pytorch_grad_cam(batch):
    """DropInConfidence (divided by the probability before: the drop as a share) and
    IncreaseInConfidence, with the softmax target."""
    from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence

    cams = batch.maps.astype(np.float32)
    targets = softmax_targets(batch.targets)
    with torch.no_grad():
        before = torch.softmax(batch.model(batch.inputs), 1)[torch.arange(N), batch.targets]
    drop = DropInConfidence()(batch.inputs, cams, targets, batch.model) / before.numpy()
    np.testing.assert_allclose(get_measure("confidence_drop").compute(batch), drop, atol=FLOAT32)
    increase = IncreaseInConfidence()(batch.inputs, cams, targets, batch.model)
    assert (get_measure("confidence_increase").compute(batch) == increase).all()


def quantus_inputs(batch: ModelBatch) -> dict:
    return dict(
        model=batch.model,
        x_batch=batch.inputs.numpy(),
        y_batch=batch.targets,
        a_batch=batch.maps[:, None],  # float64: the same order of tied features as ours
        channel_first=True,
        softmax=True,
        device="cpu",
    )


def replay(draws):
    """A stand-in for a numpy.random function that returns ``draws`` in turn."""
    queue = iter(draws)
    return lambda *args, **kwargs: next(queue)


def test_faithfulness_correlation_equals_quantus(batch, monkeypatch):
    """Quantus' FaithfulnessCorrelation (black baseline, Pearson), given our random subsets."""
    import quantus

    runs, size = 20, 64
    subsets = random_subsets(N, 3 * SIZE * SIZE, size, runs, SEED)
    monkeypatch.setattr(np.random, "choice", replay(s for run in subsets for s in run))
    metric = quantus.FaithfulnessCorrelation(
        nr_runs=runs, subset_size=size, return_aggregate=False, disable_warnings=True
    )
    expected = metric(**quantus_inputs(batch))
    ours = get_measure("faithfulness_correlation").compute(batch, runs=runs, subset_size=size)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_monotonicity_correlation_equals_quantus(batch, monkeypatch):
    """Quantus' MonotonicityCorrelation (uniform baseline, Spearman), given our uniform
    draws. (Quantus 0.6.0's Monotonicity is not the reference: its baseline image never
    gets the features back, so it scores every map 1.)"""
    import quantus

    step, samples = SIZE * SIZE // 4, 3
    draws = np.random.default_rng(SEED).uniform(size=(3 * 4, samples, N))
    monkeypatch.setattr(np.random, "uniform", replay(d for group in draws for d in group))
    metric = quantus.MonotonicityCorrelation(
        features_in_step=step, nr_samples=samples, return_aggregate=False, disable_warnings=True
    )
    expected = metric(**quantus_inputs(batch))
    ours = get_measure("monotonicity_correlation").compute(
        batch, features_in_step=step, samples=samples
    )
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_infidelity_equals_captum(batch):
    """captum's infidelity (normalize=True) of the softmax probability, given our
    perturbations."""
    from captum.metrics import infidelity

    samples, removed = 5, 0.25
    noise = infidelity_perturbations(batch, samples, removed)
    expected = infidelity(
        lambda x: torch.softmax(batch.model(x), 1),
        lambda inputs: (noise, inputs - noise),
        batch.inputs,
        torch.from_numpy(batch.maps[:, None].repeat(3, 1)).float(),
        target=torch.as_tensor(batch.targets),
        n_perturb_samples=samples,
        normalize=True,
    ).numpy()
    ours = get_measure("infidelity").compute(batch, samples=samples, removed=removed)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-9)


def test_max_sensitivity_equals_captum(batch):
    """captum's sensitivity_max (Frobenius norm), given our uniform perturbations."""
    from captum.metrics import sensitivity_max

    samples, radius = 4, 0.05
    noise = sensitivity_noise(batch, samples, radius)
    expected = sensitivity_max(
        # captum passes the inputs as a tuple at first, then as the tensor; takes a tuple
        lambda x, target: (
            torch.from_numpy(saliency(batch.model, x[0] if isinstance(x, tuple) else x, target)),
        ),
        batch.inputs,
        perturb_func=lambda x, r: x + noise,
        perturb_radius=radius,
        n_perturb_samples=samples,
        target=torch.as_tensor(batch.targets),
    ).numpy()
    ours = get_measure("max_sensitivity").compute(batch, samples=samples, radius=radius)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    assert (ours > 0).all()


def test_random_logit_equals_quantus(batch, monkeypatch):
    """Quantus' RandomLogit (SSIM of the flattened maps), given our other classes."""
    import quantus

    others = other_classes(batch.targets, CLASSES, SEED)
    assert (others != batch.targets).all() and (others < CLASSES).all()
    monkeypatch.setattr(np.random, "randint", replay([others - (others > batch.targets)]))
    metric = quantus.RandomLogit(num_classes=CLASSES, return_aggregate=False, disable_warnings=True)
    expected = metric(
        **quantus_inputs(batch),
        explain_func=lambda model, inputs, targets, **_: saliency(
            model, torch.from_numpy(inputs), targets
        ),
    )
    np.testing.assert_allclose(get_measure("random_logit").compute(batch), expected, atol=1e-9)


def quantus_one_by_one(metric, maps: np.ndarray, regions: np.ndarray | None = None):
    """Quantus on one map at a time: its normalisation by the maximum is then each map's
    own, as ours is."""
    x = np.zeros((1, 3, *maps.shape[1:]), np.float32)
    return np.array(
        [
            metric(
                model=None,
                x_batch=x,
                y_batch=np.zeros(1, int),
                a_batch=maps[i : i + 1, None],
                s_batch=None if regions is None else regions[i : i + 1, None],
                channel_first=True,
            )[0]
            for i in range(len(maps))
        ],
        dtype=float,
    )


def test_complexity_measures_equal_quantus():
    import quantus

    rng = np.random.default_rng(0)
    maps = rng.random((4, 16, 16)) ** 3 * np.array([1.0, 5.0, 0.2, 1.0])[:, None, None]
    maps[3] = 0.0
    maps[3, 2, 3] = 1.0  # one pixel holds everything
    for name, reference in (("sparseness", quantus.Sparseness), ("complexity", quantus.Complexity)):
        expected = quantus_one_by_one(
            reference(return_aggregate=False, disable_warnings=True), maps
        )
        ours = get_measure(name).compute(maps)
        np.testing.assert_allclose(ours, expected, rtol=1e-9, err_msg=name)
    gini, entropy = get_measure("sparseness").compute(maps), get_measure("complexity").compute(maps)
    assert gini[3] > 0.99 and entropy[3] < 1e-3 and entropy.max() <= np.log(256)


def test_localisation_measures_equal_quantus():
    import quantus

    rng = np.random.default_rng(0)
    maps = rng.random((4, 16, 16))
    maps[1, 5, 8] = 2.0  # a peak inside the second region: one hit
    regions = box_masks([(0, 0, 8, 8), (4, 4, 12, 16), (8, 0, 16, 16), (0, 0, 0, 0)], 16, 16)
    references = {
        "region_pointing_game": quantus.PointingGame(return_aggregate=False, disable_warnings=True),
        "energy_pointing_game": quantus.AttributionLocalisation(
            return_aggregate=False, disable_warnings=True
        ),
        "topk_intersection": quantus.TopKIntersection(
            k=50, return_aggregate=False, disable_warnings=True
        ),
    }
    for name, metric in references.items():
        expected = quantus_one_by_one(metric, maps, regions)
        extra = {"k": 50} if name == "topk_intersection" else {}
        ours = get_measure(name).compute(maps, regions, **extra)
        np.testing.assert_allclose(ours[:3], expected[:3], rtol=1e-9, err_msg=name)
        # an empty region: NaN (Quantus' pointing game writes NaN into booleans: True)
        assert np.isnan(ours[3]) and not np.isnan(ours[:3]).any()


# --- known answer: the planted model ---------------------------------------------------------

BOX, DISTRACTOR, PLANT = (16, 16, 48, 48), (0, 40, 16, 64), 64


class Tempered(torch.nn.Module):
    """The planted model's logits divided by 4: its probability about 0.9, not 1 - 1e-6,
    so that a perturbation moves it."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) / 4


@pytest.fixture(scope="module")
def planted() -> dict[str, ModelBatch]:
    """Two images of the planted model's class, explained by a map of the box (1 there,
    faint noise elsewhere) and by a random map."""
    net = RedInBoxNet(BOX, size=PLANT)
    inputs = torch.cat(
        [imagenet_tensor(red_patches_image(BOX, DISTRACTOR, size=PLANT, seed=s)) for s in (0, 1)]
    )
    targets = np.full(len(inputs), net.target)
    box = box_masks([BOX] * len(inputs), PLANT, PLANT)
    noise = np.random.default_rng(0).random(box.shape)
    return {
        name: ModelBatch(
            model=Tempered(net).eval(), inputs=inputs, maps=maps, targets=targets, seed=3
        )
        for name, maps in (("box", np.where(box, 1.0, 0.1 * noise)), ("random", noise))
    }


KNOWN_SETTINGS = {  # cheaper than the defaults, as separating
    "road_morf": {"percentiles": (30, 70)},
    "road_lerf": {"percentiles": (30, 70)},
    "faithfulness_correlation": {"runs": 30, "subset_size": 512},
    "monotonicity_correlation": {"samples": 2},
    "infidelity": {"samples": 8},
}


@pytest.mark.parametrize("spec", measures("model"), ids=lambda s: s.name)
def test_a_map_of_the_box_is_more_faithful_than_a_random_map(planted, spec):
    settings = KNOWN_SETTINGS.get(spec.name, {})
    box, noise = (spec.compute(planted[k], **settings).mean() for k in ("box", "random"))
    low, high = spec.range
    assert low <= min(box, noise) and max(box, noise) <= high, (box, noise)
    assert spec.beats(box, noise), (box, noise)


@pytest.mark.parametrize("spec", measures("map-region"), ids=lambda s: s.name)
def test_a_map_of_the_box_localises_better_than_a_random_map(planted, spec):
    regions = box_masks([BOX] * 2, PLANT, PLANT)
    box, noise = (spec.compute(planted[k].maps, regions).mean() for k in ("box", "random"))
    assert spec.beats(box, noise), (box, noise)


def test_model_parameter_randomisation_equals_quantus_mprt(monkeypatch):
    """Our cascading randomisation (explainlab.compare.sanity, the sanity family's
    Spearman) against Quantus' MPRT (top-down, Spearman, no abs or normalisation: both
    compare the raw maps) on the same layers: a network whose randomisable layers are its
    top-level children, so our blocks are Quantus' layers. The one difference is declared:
    Quantus seeds every layer with seed + 1, ours step k with seed + k (so two layers of one
    shape do not get the same weights); the test gives ours Quantus' seeds. Tolerance 1e-12:
    both are scipy's Spearman of the same float64 maps."""
    import quantus

    from explainlab.compare import sanity
    from explainlab.images import Sample

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, CLASSES),
    ).eval()
    inputs = torch.randn(N, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    targets = np.array([1, 4, 9])
    quantus_seed = 42
    reset = sanity.randomise_block
    monkeypatch.setattr(
        sanity, "randomise_block", lambda model, name, seed: reset(model, name, quantus_seed + 1)
    )
    blocks = sanity.cascade_blocks(net)
    assert blocks == ["6", "2", "0"]  # Quantus' layers with reset_parameters, top down
    ours = {}
    for i in range(N):
        sample = Sample(
            key=str(i),
            path=Path(f"{i}.png"),
            crop=np.zeros((SIZE, SIZE, 3), np.uint8),
            tensor=inputs[i],
        )
        rows, _ = sanity.sanity_check(
            net,
            sample,
            int(targets[i]),
            {"saliency": lambda m, s, t: saliency(m, s.tensor[None], [t])[0]},
            blocks,
        )
        for row in rows[1:]:
            ours.setdefault(row.block, []).append(row.similarity["spearman"])

    def one_by_one(model, inputs, targets, **_):
        # one image at a time, as ours: float32 gradients of a batch differ in the last bits
        x = torch.from_numpy(inputs)
        return np.stack(
            [saliency(model, x[i : i + 1], targets[i : i + 1])[0] for i in range(len(x))]
        )[:, None]

    metric = quantus.MPRT(
        similarity_func=quantus.similarity_func.correlation_spearman,
        layer_order="top_down",
        seed=quantus_seed,
        abs=False,
        normalise=False,
        return_aggregate=False,
        disable_warnings=True,
    )
    expected = metric(
        model=net,
        x_batch=inputs.numpy(),
        y_batch=targets,
        a_batch=one_by_one(net, inputs.numpy(), targets),
        channel_first=True,
        device="cpu",
        explain_func=one_by_one,
    )
    expected = expected[0] if isinstance(expected, list) else expected
    assert list(ours) == [name for name in expected if name != "original"]
    for name, values in ours.items():
        np.testing.assert_allclose(values, expected[name], atol=1e-12, err_msg=name)
    assert max(abs(np.asarray(ours["0"]))) < 0.99  # the maps did change
