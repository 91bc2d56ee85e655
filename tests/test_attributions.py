"""Gradient and perturbation attributions: each method's raw attribution equals captum
called directly with the same arguments (random-weight ResNet18, 64 px); DeepLift on
ResNet's reused ReLU; the model left as it was found; the map rule; RISE seeded, and
RISE and Saliency on a planted model whose evidence sits in a known box; KernelSHAP on
LIME's superpixels; xl.explain on EfficientNet-Lite0 with the goldfish."""

from __future__ import annotations

import copy
import types

import numpy as np
import pytest
import torch
import torchvision
from captum import attr
from torch import nn

import explainlab as xl
from explainlab.attributions.compute import attribute
from explainlab.attributions.maps import attribution_map
from explainlab.attributions.rise import rise
from explainlab.attributions.settings import DEFAULTS, AttributionSettings, passes
from explainlab.errors import InputError
from explainlab.images import Geometry
from explainlab.lime.segments import lime_segments
from explainlab.methods import get_method, method_names
from helpers import RedInBoxNet, imagenet_tensor, red_patches_image

# captum warns when it sets requires_grad and hooks (the direct calls here)
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:captum"),
    pytest.mark.usefixtures("one_thread"),
]

GOLDFISH = "imagenet-samples/n01443537_goldfish.JPEG"
SIZE = 64
TARGETS = [1, 207]
CHEAP = AttributionSettings(ig_steps=8, rise_masks=64, batch_size=16, seed=3)
ATTRIBUTIONS = method_names("gradient") + method_names("perturbation")


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _blocks(count: int = 2) -> np.ndarray:
    """(count, SIZE, SIZE) superpixels: a 4 x 4 grid of squares."""
    cells = np.arange(SIZE) // (SIZE // 4)
    return np.broadcast_to(cells[:, None] * 4 + cells[None, :], (count, SIZE, SIZE)).copy()


def _with_two_relus(model: nn.Module) -> nn.Module:
    """The ResNet with a ReLU module of its own for each of a block's two ReLUs: the model
    captum's DeepLift needs (written here as torchvision's BasicBlock.forward is)."""

    def forward(block, x):
        out = block.relu_a(block.bn1(block.conv1(x)))
        out = block.bn2(block.conv2(out))
        identity = x if block.downsample is None else block.downsample(x)
        return block.relu_b(out + identity)

    twin = copy.deepcopy(model)
    for block in twin.modules():
        if isinstance(block, torchvision.models.resnet.BasicBlock):
            block.relu_a, block.relu_b = nn.ReLU(), nn.ReLU()
            block.forward = types.MethodType(forward, block)
    return twin


def _captum(name: str, model: nn.Module, x: torch.Tensor, s: AttributionSettings):
    """captum called directly, as its documentation does, seeded as ours is."""
    torch.manual_seed(s.seed)
    np.random.seed(s.seed)
    x = x.clone().requires_grad_()
    calls = {
        "saliency": lambda: attr.Saliency(model).attribute(x, target=TARGETS),
        "inputxgradient": lambda: attr.InputXGradient(model).attribute(x, target=TARGETS),
        "integratedgradients": lambda: attr.IntegratedGradients(model).attribute(
            x, target=TARGETS, n_steps=s.ig_steps
        ),
        "smoothgrad": lambda: attr.NoiseTunnel(attr.Saliency(model)).attribute(
            x, nt_type="smoothgrad", target=TARGETS
        ),
        "guidedbackprop": lambda: attr.GuidedBackprop(model).attribute(x, target=TARGETS),
        "guidedgradcam": lambda: attr.GuidedGradCam(model, model.layer4).attribute(
            x, target=TARGETS
        ),
        "deeplift": lambda: attr.DeepLift(_with_two_relus(model)).attribute(x, target=TARGETS),
        "gradientshap": lambda: attr.GradientShap(model).attribute(
            x, baselines=torch.zeros(1, 3, SIZE, SIZE), target=TARGETS
        ),
        "occlusion": lambda: attr.Occlusion(model).attribute(
            x,
            sliding_window_shapes=(3, 16, 16),
            strides=(3, 8, 8),
            target=TARGETS,
            perturbations_per_eval=s.batch_size,
        ),
        "kernelshap": lambda: attr.KernelShap(model).attribute(
            x,
            target=TARGETS,
            feature_mask=torch.as_tensor(_blocks())[:, None].long(),
            perturbations_per_eval=s.batch_size,
        ),
    }
    model.eval()
    return calls[name]().detach()


@pytest.mark.parametrize("name", [n for n in ATTRIBUTIONS if n != "rise"])
def test_raw_attribution_equals_captum(name, resnet, x):
    ours = attribute(name, resnet, x, TARGETS, CHEAP, layer=resnet.layer4, segments=_blocks())
    reference = _captum(name, resnet, x, CHEAP)
    assert ours.raw.shape == reference.shape == (2, 3, SIZE, SIZE)
    assert (ours.raw - reference).abs().max().item() <= 1e-6
    assert ours.maps.shape == (2, SIZE, SIZE) and ours.maps.dtype == np.float32
    for raw, ours_raw, saliency in zip(reference, ours.raw, ours.maps, strict=True):
        np.testing.assert_array_equal(saliency, attribution_map(ours_raw, "absolute"))
        # min-max normalisation magnifies float noise where a map's range is small
        np.testing.assert_allclose(saliency, attribution_map(raw, "absolute"), atol=1e-4)


def test_captum_deeplift_fails_on_resnet_and_ours_needs_no_copy_without_reuse(resnet, x):
    with pytest.raises(RuntimeError, match="used more than once"):
        attr.DeepLift(resnet).attribute(x.clone().requires_grad_(), target=TARGETS)
    for relu in (m for m in resnet.modules() if isinstance(m, nn.ReLU)):  # captum's leftovers
        for name in ("input", "output"):
            if hasattr(relu, name):
                delattr(relu, name)
    plain = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()
    ours = attribute("deeplift", plain, x, [0, 2], CHEAP).raw
    reference = attr.DeepLift(plain).attribute(x.clone().requires_grad_(), target=[0, 2])
    assert torch.equal(ours, reference.detach())


@pytest.mark.parametrize("name", ATTRIBUTIONS)
def test_the_model_is_left_as_it_was_found(name, x):
    torch.manual_seed(0)
    model = torchvision.models.resnet18()  # training mode, as built
    model.fc.weight.requires_grad_(False)
    model.conv1.weight.grad = torch.ones_like(model.conv1.weight)
    model.layer1.register_forward_hook(lambda *_: None)
    before = {
        "modes": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "hooks": [dict(m._forward_hooks) for m in model.modules()],
        "attributes": [sorted(vars(m)) for m in model.modules()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }
    attribute(name, model, x[:1], 5, CHEAP, layer=model.layer4, segments=_blocks(1))
    assert [m.training for m in model.modules()] == before["modes"]
    assert [p.requires_grad for p in model.parameters()] == before["requires_grad"]
    assert all(p.grad is g for p, g in zip(model.parameters(), before["grads"], strict=True))
    assert [dict(m._forward_hooks) for m in model.modules()] == before["hooks"]
    assert [m._backward_hooks for m in model.modules()] == [{}] * len(before["modes"])
    assert [sorted(vars(m)) for m in model.modules()] == before["attributes"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, before["state"][key]), key


def test_map_rules():
    raw = torch.tensor([[[1.0, -3.0], [0.0, 2.0]], [[1.0, 1.0], [0.0, -4.0]]])  # (2, 2, 2)
    np.testing.assert_allclose(attribution_map(raw, "absolute"), [[2 / 6, 4 / 6], [0, 1]])
    np.testing.assert_allclose(attribution_map(raw, "positive"), [[1, 0], [0, 0]])
    assert not attribution_map(torch.zeros(3, 4, 4), "absolute").any()
    with pytest.raises(ValueError, match="map_rule must be one of absolute, positive"):
        AttributionSettings(map_rule="signed").validate()


def test_the_registry_states_the_passes_at_the_defaults():
    cost = {name: get_method(name).passes(512, "fast") for name in ATTRIBUTIONS}
    assert (cost["saliency"].forward, cost["saliency"].backward) == (1, 1)
    assert (cost["integratedgradients"].forward, cost["integratedgradients"].backward) == (50, 50)
    assert cost["occlusion"].forward == 27 * 27 + 1  # 16 px windows every 8 px on 224, + 1
    assert cost["kernelshap"].forward == 25 and cost["rise"].forward == 1000
    assert passes("occlusion", DEFAULTS, size=64) == (7 * 7 + 1, 0)
    assert get_method("rise").reference == "ours"


# --- RISE -------------------------------------------------------------------------------


def test_rise_is_seeded_and_independent_of_the_batch_size(resnet, x):
    first = rise(resnet, x, TARGETS, CHEAP)
    assert torch.equal(first, rise(resnet, x, TARGETS, CHEAP))
    other_batch = rise(resnet, x, TARGETS, AttributionSettings(**{**vars(CHEAP), "batch_size": 7}))
    torch.testing.assert_close(other_batch, first, rtol=1e-5, atol=1e-7)
    other_seed = rise(resnet, x, TARGETS, AttributionSettings(**{**vars(CHEAP), "seed": 4}))
    assert not torch.equal(other_seed, first)
    assert first.shape == (2, 1, SIZE, SIZE) and (first >= 0).all()


BOX = (8, 8, 32, 32)  # top, left, bottom, right: the planted evidence
DISTRACTOR = (40, 32, 56, 56)  # red too, but the model ignores it


@pytest.fixture(scope="module")
def planted() -> tuple[nn.Module, torch.Tensor]:
    model = RedInBoxNet(BOX, size=SIZE)
    image = red_patches_image(BOX, DISTRACTOR, size=SIZE)
    return model, imagenet_tensor(image)


def _in_box(saliency: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The share of the map's mass inside BOX, and where its peak is."""
    top, left, bottom, right = BOX
    share = saliency[top:bottom, left:right].sum() / saliency.sum()
    return float(share), np.unravel_index(int(saliency.argmax()), saliency.shape)


def _inside(peak: tuple[int, int]) -> bool:
    top, left, bottom, right = BOX
    return top <= peak[0] < bottom and left <= peak[1] < right


def test_rise_finds_the_planted_box(planted):
    """The peak in the box, the box twice as salient as the rest and three times as the
    red distractor outside it (robust over seeds 0-3: at least 2.4, 2.7)."""
    model, x = planted
    settings = AttributionSettings(rise_masks=1000, rise_cells=4, batch_size=250)
    [saliency] = attribute("rise", model, x, model.target, settings).maps
    share, peak = _in_box(saliency)
    assert _inside(peak)
    assert share > 0.25  # the box is 14% of the image
    top, left, bottom, right = BOX
    outside = np.ones_like(saliency, dtype=bool)
    outside[top:bottom, left:right] = False
    inside = saliency[top:bottom, left:right].mean()
    assert inside > 2 * saliency[outside].mean()
    top, left, bottom, right = DISTRACTOR
    assert inside > 2.5 * saliency[top:bottom, left:right].mean()


def test_saliency_puts_all_its_mass_in_the_planted_box(planted):
    model, x = planted
    [saliency] = attribute("saliency", model, x, model.target).maps
    share, peak = _in_box(saliency)
    assert _inside(peak) and share == pytest.approx(1.0)


# --- through xl.explain -----------------------------------------------------------------


def test_guided_gradcam_refuses_a_layer_without_a_spatial_map(resnet, x):
    with pytest.raises(InputError, match="needs a target layer whose output is a spatial map"):
        attribute("guidedgradcam", resnet, x, 1, layer=resnet.layer4, reshape=lambda t: t)


def test_kernelshap_works_on_the_superpixels_lime_uses(resnet, mirror):
    model = xl.wrap(resnet, name="random_resnet18", geometry=Geometry(resize=SIZE, crop=SIZE))
    lime = {"params": {"num_samples": 20, "batch_size": 20}, "seed": 2}
    [found] = xl.explain(model, [mirror / GOLDFISH], ["lime", "kernelshap"], target=1, lime=lime)
    segments = found.raw["lime"].segments
    np.testing.assert_array_equal(
        segments, lime_segments(found.crop, {"random_seed": 2, "segmentation_fn": None})
    )
    shap = found.raw["kernelshap"]
    for segment in np.unique(segments):  # one value per superpixel (and channel)
        inside = shap[:, torch.as_tensor(segments == segment)]
        assert torch.equal(inside, inside[:, :1].expand_as(inside))
    assert found.impl["kernelshap"]["impl"] == "captum"


def test_efficientnet_lite0_goldfish_through_explain(lite0, mirror, tmp_path):
    methods = ["saliency", "guidedgradcam"]
    [found] = xl.explain(lite0, mirror / GOLDFISH, methods)
    assert found.target_name == "goldfish" and found.layer == "bn2"
    x = found.tensor[None].clone().requires_grad_()
    lite0.module.eval()
    reference = {
        "saliency": attr.Saliency(lite0.module).attribute(x, target=found.target),
        "guidedgradcam": attr.GuidedGradCam(lite0.module, lite0.layer("bn2")).attribute(
            x, target=found.target
        ),
    }
    for name in methods:
        assert found.raw[name].shape == (3, 224, 224)
        assert (found.raw[name] - reference[name][0].detach()).abs().max().item() <= 1e-6
        assert found.maps[name].shape == (224, 224) and found.maps[name].max() == 1.0
    found.save(tmp_path)
    for name in methods:
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), found.maps[name])
        np.testing.assert_array_equal(
            np.load(tmp_path / f"{name}_raw.npy"), found.raw[name].numpy()
        )
