"""Our fast CAM variants against pytorch-grad-cam on small models: same maps (max abs
difference <= 1e-4 on the normalised maps), both split paths, the planted-evidence model,
and a model left exactly as it was, also when a method raises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.ablation_layer import AblationLayer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from explainlab.cam.fast import ablation_values
from explainlab.cam.methods import compute_cam
from explainlab.cam.settings import METHODS, CamSettings
from explainlab.cam.split import split_at
from explainlab.errors import ConfigError, UnknownNameError
from explainlab.settings import from_table
from helpers import RedInBoxNet, imagenet_tensor, red_patches_image

TOLERANCE = 1e-4  # max abs difference between normalised maps, ours vs the library
BOX = (32, 40, 96, 104)  # top, left, bottom, right
DISTRACTOR = (136, 128, 200, 192)


def _assert_same(method, model, layer, x, target, **kw):
    ours = compute_cam(method, model, layer, x, target, impl="fast", **kw)
    ref = compute_cam(method, model, layer, x, target, impl="library", **kw)
    assert ours.shape == ref.shape == tuple(x.shape[-2:])
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= TOLERANCE, (method, np.abs(ours - ref).max())
    return ours


# --- small models ------------------------------------------------------------------------


class TinyNet(nn.Module):
    """conv -> ReLU -> conv (``features``, the target: its output has negative values)
    -> ``post`` -> pool -> linear. ``untraceable``: Python control flow on a tensor, which
    torch.fx cannot trace; ``inplace``: ``post`` is an in-place ReLU that rewrites the
    target layer's output after the fact."""

    def __init__(self, *, untraceable: bool = False, inplace: bool = False) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.features = nn.Sequential(
                nn.Conv2d(3, 6, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(6, 8, 3, stride=2, padding=1),
            )
            self.fc = nn.Linear(8, 4)
        self.post = nn.ReLU(inplace=inplace)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.untraceable = untraceable
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.post(self.features(x))
        if self.untraceable and bool(f.sum() > -1e30):
            f = f * 1.0
        return self.fc(self.pool(f).flatten(1))


class GatedChannels(nn.Module):
    """Zeroes channels 0-3: four constant channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[:, :4] = 0.0
        return x


class Counter(nn.Module):
    """Identity that records each batch it sees: size, memory format, inference mode."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = x.is_contiguous(memory_format=torch.channels_last)
        self.seen.append((x.shape[0], channels_last, torch.is_inference_mode_enabled()))
        return x


def _constant_channel_net() -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(1)
        conv, linear = nn.Conv2d(3, 10, 3, stride=4, padding=1), nn.Linear(10, 3)
    net = nn.Sequential(
        Counter(),
        conv,
        nn.ReLU(),
        GatedChannels(),  # index 3: the target layer
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        linear,
    )
    return net.eval()


def _image(size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def resnet18():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torchvision.models.resnet18(weights=None).eval()


# --- the split -----------------------------------------------------------------------------


def test_split_is_fx_for_resnet_and_reproduces_the_model(resnet18):
    x = _image(112)
    for layer in (resnet18.layer4[-1], resnet18.layer4[-1].conv2):  # the 2nd needs the residual
        split = split_at(resnet18, layer, x)
        assert split.path == "fx", split.reason
        batch = split.activation.expand(3, *split.activation.shape[1:])
        with torch.no_grad():
            out = split.tail(batch)
            ref = resnet18(x)
        torch.testing.assert_close(out, ref.expand(3, -1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kind", "why"),
    [("untraceable", "torch.fx could not trace"), ("inplace", "in place")],
)
def test_split_falls_back_to_hooks_with_a_reason(kind, why):
    net = TinyNet(**{kind: True})
    split = split_at(net, net.features, _image())
    assert split.path == "hook" and why in split.reason
    with torch.no_grad():
        out = split.tail(split.activation.expand(2, *split.activation.shape[1:]).clone())
        torch.testing.assert_close(out, net(_image()).expand(2, -1))
    assert not net.features._forward_hooks


def test_layer_called_twice_uses_hooks_and_unused_layer_is_an_error():
    shared = nn.Conv2d(3, 3, 3, padding=1)
    net = nn.Sequential(shared, shared, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))
    assert split_at(net.eval(), shared, _image()).path == "hook"
    with pytest.raises(ConfigError, match="not used"):
        split_at(net, nn.Conv2d(3, 3, 1), _image())
    with pytest.raises(ConfigError, match="one image"):
        split_at(net, shared, torch.zeros(2, 3, 8, 8))


# --- same maps as the library --------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_same_maps_on_resnet18(resnet18, method):
    x = _image(112, seed=3)
    target = int(resnet18(x).argmax())
    _assert_same(method, resnet18, resnet18.layer4[-1], x, target)


@pytest.mark.parametrize("method", ["gradcam", "ablationcam"])
def test_same_maps_inside_a_residual_block(resnet18, method):
    x = _image(112, seed=4)
    _assert_same(method, resnet18, resnet18.layer4[-1].conv2, x, 7)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "kind", ["traced", "untraceable", "inplace"], ids=["fx", "hook-untraceable", "hook-inplace"]
)
def test_same_maps_on_both_paths(method, kind):
    net = TinyNet(untraceable=kind == "untraceable", inplace=kind == "inplace")
    # batch 3 over 8 channels: the library's ablation value restarts with each batch
    _assert_same(method, net, net.features, _image(seed=5), 1, batch_size=3)


def test_ablation_values_are_the_library_ones():
    for low in (0.0, 0.25, -3.0):
        a = torch.rand(1, 6, 3, 3, generator=torch.Generator().manual_seed(0)) + 1.0
        a[0, 2, 1, 1] = low
        layer = AblationLayer()
        layer.indices = np.arange(4)
        layer.set_next_batch(input_batch_index=0, activations=a, num_channels_to_ablate=4)
        written = layer(None)
        expected = torch.stack([written[i, i].flatten()[0] for i in range(4)])
        assert torch.equal(ablation_values(a, 4), expected)
        if low == 0.0:
            assert torch.equal(expected, torch.zeros(4))


def test_scorecam_scores_constant_channels_once_in_small_channels_last_batches():
    net = _constant_channel_net()
    counter = net[0]
    x = _image(64, seed=6)
    compute_cam("scorecam", net, net[3], x, 2, impl="library", batch_size=4)
    assert sum(n for n, _, _ in counter.seen) == 1 + 10  # one pass, then every channel
    counter.seen.clear()
    _assert_same("scorecam", net, net[3], x, 2, batch_size=4)
    capture, *passes = counter.seen[: len(counter.seen) - 11]  # the library's come last
    assert capture[0] == 1
    # 6 varying channels + 1 pass for the four constant ones, in batches of at most 4
    assert sum(n for n, _, _ in passes) == 7
    assert all(n <= 4 and channels_last and inference for n, channels_last, inference in passes)


def test_bf16_scorecam_runs_and_is_refused_for_the_library():
    net = TinyNet()
    saliency = compute_cam("scorecam", net, net.features, _image(), 1, scorecam_bf16=True)
    assert saliency.shape == (32, 32) and saliency.min() >= 0.0 and saliency.max() <= 1.0
    with pytest.raises(ValueError, match="bf16"):
        compute_cam("scorecam", net, net.features, _image(), 1, impl="library", scorecam_bf16=True)
    assert from_table(CamSettings, {"scorecam_bf16": True}, "[cam]").scorecam_bf16
    with pytest.raises(ConfigError, match="bf16"):
        from_table(CamSettings, {"impl": "library", "scorecam_bf16": True}, "[cam]")


# --- known answer ----------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fast", "library"])
@pytest.mark.parametrize("method", METHODS)
def test_peak_falls_in_the_box_not_on_the_distractor(method, impl):
    net = RedInBoxNet(BOX)
    x = imagenet_tensor(red_patches_image(BOX, DISTRACTOR))
    saliency = compute_cam(method, net, net.features, x, net.target, impl=impl)
    row, col = np.unravel_index(saliency.argmax(), saliency.shape)
    top, left, bottom, right = BOX
    assert top <= row < bottom and left <= col < right
    t, lft, b, r = DISTRACTOR
    assert saliency[t:b, lft:r].max() < 0.5 * saliency[top:bottom, left:right].max()


# --- the model is left as it was ----------------------------------------------------------


class Trap(nn.Module):
    """Identity until call ``broken_from``; from then on every call raises ``error``."""

    def __init__(self, broken_from: int, error: type[Exception]) -> None:
        super().__init__()
        self.broken_from, self.error, self.calls = broken_from, error, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls >= self.broken_from:
            raise self.error(f"trap sprung at call {self.calls}")
        return x


def _state(model: nn.Module) -> dict:
    return {
        "modules": [(name, id(m)) for name, m in model.named_modules()],
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "hooks": [
            len(m._forward_hooks)
            + len(m._forward_pre_hooks)
            + len(m._backward_hooks)
            + len(m._backward_pre_hooks)
            for m in model.modules()
        ],
        "params": [p.detach().clone() for p in model.parameters()],
    }


def _assert_unchanged(model: nn.Module, before: dict) -> None:
    after = _state(model)
    for key in ("modules", "training", "requires_grad", "hooks"):
        assert after[key] == before[key], key
    assert all(g is None for g in after["grads"])
    assert all(torch.equal(a, b) for a, b in zip(after["params"], before["params"], strict=True))


# (method, impl, forward pass that raises): library Grad-CAM runs the model only once;
# AblationCAM's 2nd pass is before the library swaps the layer out, its 3rd after.
TRAPS = [
    (method, impl, broken_from)
    for method in METHODS
    for impl in ("fast", "library")
    for broken_from in (1, 2, 3)
    if not (method == "gradcam" and impl == "library" and broken_from > 1)
]


@pytest.mark.parametrize("error", [RuntimeError, IndexError])
@pytest.mark.parametrize(("method", "impl", "broken_from"), TRAPS)
def test_model_restored_when_a_method_raises(method, impl, broken_from, error):
    net = RedInBoxNet(BOX)
    trap = Trap(broken_from, error)
    net.head = nn.Sequential(trap, net.head)
    net.train()  # the methods run in eval mode and must give the training flags back
    net.head[1][2].bias.requires_grad_(False)
    before = _state(net)
    x = imagenet_tensor(red_patches_image(BOX, DISTRACTOR))
    # IndexError must propagate: pytorch-grad-cam's ``with cam:`` would swallow it
    with pytest.raises(error, match="trap sprung"):
        compute_cam(method, net, net.features, x, 2, impl=impl, batch_size=2)
    assert trap.calls >= broken_from
    _assert_unchanged(net, before)
    trap.broken_from = 10**9
    ok = compute_cam(method, net, net.features, x, 2, impl=impl)
    assert ok.shape == (224, 224)
    _assert_unchanged(net, before)


@pytest.mark.parametrize("method", METHODS)
def test_out_of_range_target_raises_for_both_impls(method):
    net = RedInBoxNet(BOX)
    before = _state(net)
    x = imagenet_tensor(red_patches_image(BOX, DISTRACTOR))
    with pytest.raises(UnknownNameError, match="target class 99"):
        compute_cam(method, net, net.features, x, 99, impl="fast")
    with pytest.raises(IndexError):
        compute_cam(method, net, net.features, x, 99, impl="library")
    _assert_unchanged(net, before)


def test_the_librarys_own_context_manager_swallows_index_error(capsys):
    """Why library.py never uses ``with cam``: this returns without any error."""
    net = RedInBoxNet(BOX)
    x = imagenet_tensor(red_patches_image(BOX, DISTRACTOR))
    with GradCAM(net, [net.features]) as cam:
        cam(input_tensor=x, targets=[ClassifierOutputTarget(99)])
    assert "IndexError" in capsys.readouterr().out
