"""Every CAM of pytorch-grad-cam 1.5.7 through our dispatch against the library's class
called directly (its quirks spelled out here, not taken from our build functions): max
abs difference <= 1e-5 on a random-weight ResNet18, the trained EfficientNet-Lite0 and a
random-weight timm ViT through its token reshape. The CAMs of the shared pass: one
forward pass, a backward pass through the tail only, a batch as one batch; RandomCAM
seeded; the hand-over to the library where a later layer edits the layer's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from pytorch_grad_cam import FinerCAM, FullGrad
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from explainlab.cam.gradients import GRADIENT_CAMS, SHARED, gradient_cams
from explainlab.cam.methods import cam_map, cam_maps_sharing
from explainlab.errors import ConfigError
from explainlab.methods import get_method, method_names
from explainlab.methods.randomcam import SEED
from helpers import RedInBoxNet, imagenet_tensor, red_patches_image
from test_cam_fast import TinyNet

TOLERANCE = 1e-5
NEW = (
    "gradcamplusplus",
    "xgradcam",
    "layercam",
    "hirescam",
    "gradcamelementwise",
    "eigencam",
    "eigengradcam",
    "fullgrad",
    "kpca_cam",
    "shapleycam",
    "finercam",
    "randomcam",
)
FAMILY = ("gradcam", *NEW)  # AblationCAM and ScoreCAM: tests/test_cam_fast.py


def library_map(method, model, layer, x, target, reshape=None) -> np.ndarray:
    """The library's map, its class called as its documentation shows."""
    cls = get_method(method).load("reference")
    if method == "fullgrad":  # every biased conv and batch norm; no target layer
        cam = FullGrad(model, [])
    else:
        cam = cls(model, [layer], reshape_transform=reshape)
    hooks = cam.base_cam if isinstance(cam, FinerCAM) else cam
    try:
        if method == "finercam":  # the target as target_idx: its most similar classes
            return cam(x, targets=None, target_idx=target)[0]
        state = np.random.get_state()
        np.random.seed(SEED)  # RandomCAM draws from numpy's global generator
        try:
            return cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
        finally:
            np.random.set_state(state)
    finally:  # its release would detach views in place (ShapleyCAM on tokens): drop them
        hooks.activations_and_grads.activations = []
        hooks.activations_and_grads.gradients = []
        hooks.activations_and_grads.release()
        model.zero_grad(set_to_none=True)


def _image(size: int, seed: int, n: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def resnet18():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def vit():
    """A random-weight timm ViT at 64 px (a 4 x 4 grid of tokens) and its CAM target."""
    import timm

    from explainlab.models.targets import cam_target

    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64).eval()
    return module, cam_target(module, None, 64, torch.device("cpu"))


def _check_family(method, model, layer, x, reshape=None):
    with torch.no_grad():
        target = int(model(x).argmax())
    expected = library_map(method, model, layer, x, target, reshape)
    for impl in ("fast", "library"):
        ours = cam_map(method, model, layer, x, target, impl=impl, reshape=reshape)
        assert ours.map.shape == tuple(x.shape[-2:]) and ours.map.dtype == np.float32
        difference = np.abs(ours.map - expected).max()
        assert difference <= TOLERANCE, (method, impl, difference)
        fast = get_method(method).fast is not None
        assert ours.impl == ("fast" if impl == "fast" and fast else "library"), ours.note


def test_every_cam_of_the_library_is_registered():
    assert set(FAMILY) <= set(method_names("cam"))
    colours = [get_method(m).colour for m in NEW]
    assert colours == [
        "#1F77B4",
        "#AEC7E8",
        "#FF7F0E",
        "#FFBB78",
        "#2CA02C",
        "#98DF8A",
        "#D62728",
        "#FF9896",
        "#9467BD",
        "#C5B0D5",
        "#8C564B",
        "#C49C94",
    ]
    assert all(10 < get_method(m).order <= 80 for m in NEW)
    assert set(SHARED) - set(FAMILY) == set()


@pytest.mark.parametrize("method", FAMILY)
def test_same_as_the_library_on_resnet18(resnet18, method):
    _check_family(method, resnet18, resnet18.layer4[-1], _image(96, seed=1))


@pytest.mark.parametrize("method", FAMILY)
def test_same_as_the_library_on_efficientnet_lite0(lite0, method):
    x = _image(160, seed=2)
    _check_family(method, lite0.module, lite0.cam_target().layer, x)


@pytest.mark.parametrize("method", [m for m in FAMILY if m != "shapleycam"])
def test_same_as_the_library_on_a_vit_through_its_tokens(vit, method):
    module, where = vit
    _check_family(method, module, where.layer, _image(64, seed=3), where.reshape)


def test_shapleycam_refuses_tokens_where_the_library_fails(vit):
    module, where = vit
    x = _image(64, seed=3)
    # timm's fused attention has no second derivative; without it, the map's shape fails
    with pytest.raises((RuntimeError, ValueError), match="not implemented|activation shape"):
        library_map("shapleycam", module, where.layer, x, 0, where.reshape)
    with pytest.raises(ConfigError, match="ShapleyCAM cannot explain a transformer's tokens"):
        cam_map("shapleycam", module, where.layer, x, 0, reshape=where.reshape)


# --- the shared pass ----------------------------------------------------------------------


class Counted:
    """Counts forward calls of ``front`` and ``tail`` and backward calls through each."""

    def __init__(self, front: nn.Module, tail: nn.Module) -> None:
        self.calls = {"front": 0, "tail": 0, "front_backward": 0, "tail_backward": 0}
        self.handles = []
        for name, module in (("front", front), ("tail", tail)):
            self.handles += [
                module.register_forward_hook(lambda *a, n=name: self._add(n)),
                module.register_full_backward_hook(lambda *a, n=name: self._add(n + "_backward")),
            ]

    def _add(self, name: str) -> None:
        self.calls[name] += 1

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def test_seven_gradient_cams_cost_one_pass_and_the_front_no_backward(resnet18):
    x = _image(64, seed=4, n=3)
    count = Counted(resnet18.conv1, resnet18.fc)
    try:
        maps = gradient_cams(GRADIENT_CAMS, resnet18, resnet18.layer4[-1], x, [1, 2, 3])
        assert count.calls == {"front": 1, "tail": 1, "front_backward": 0, "tail_backward": 1}
    finally:
        count.remove()
    assert all(p.grad is None for p in resnet18.parameters())
    assert set(maps) == set(GRADIENT_CAMS)
    assert all(m.shape == (3, 64, 64) and m.dtype == np.float32 for m in maps.values())


def test_a_batch_with_a_target_each_equals_the_library_image_by_image(resnet18):
    x = _image(64, seed=5, n=3)
    targets = [7, 100, 999]
    methods = (*GRADIENT_CAMS, "eigencam", "randomcam")
    maps = gradient_cams(methods, resnet18, resnet18.layer4[-1], x, targets)
    for method in methods:
        for i, target in enumerate(targets):
            expected = library_map(method, resnet18, resnet18.layer4[-1], x[i : i + 1], target)
            difference = np.abs(maps[method][i] - expected).max()
            assert difference <= TOLERANCE, (method, i, difference)


def test_activation_cams_alone_skip_the_backward_pass(resnet18):
    count = Counted(resnet18.conv1, resnet18.fc)
    try:
        gradient_cams(["eigencam", "randomcam"], resnet18, resnet18.layer4[-1], _image(64, 6), [0])
        assert count.calls == {"front": 1, "tail": 1, "front_backward": 0, "tail_backward": 0}
    finally:
        count.remove()


def test_randomcam_is_seeded_and_leaves_numpys_generator_alone(resnet18):
    x = _image(64, seed=7)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = cam_map("randomcam", resnet18, resnet18.layer4[-1], x, 0).map
    again = cam_map("randomcam", resnet18, resnet18.layer4[-1], x, 0, impl="library").map
    np.testing.assert_array_equal(first, again)
    assert np.array_equal(np.random.get_state()[1], before)


def test_several_cams_share_one_pass_and_say_so(resnet18):
    x = _image(64, seed=8)
    count = Counted(resnet18.conv1, resnet18.fc)
    try:
        found = cam_maps_sharing(
            ["hirescam", "ablationcam", "layercam"], resnet18, resnet18.layer4[-1], x, 3
        )
    finally:
        count.remove()
    assert list(found) == ["hirescam", "ablationcam", "layercam"]
    hires, hires_s = found["hirescam"]
    layer, layer_s = found["layercam"]
    assert hires.impl == layer.impl == "fast" and hires_s == layer_s
    assert "shared with layercam" in hires.note and "shared with hirescam" in layer.note
    assert found["ablationcam"][0].note == ""
    # one pass for the two, then AblationCAM's own one
    assert count.calls["front"] == 2 and count.calls["tail_backward"] == 1
    for method in ("hirescam", "layercam"):
        expected = library_map(method, resnet18, resnet18.layer4[-1], x, 3)
        assert np.abs(found[method][0].map - expected).max() <= TOLERANCE


def test_the_library_runs_where_a_later_layer_edits_the_output_in_place():
    net = TinyNet(inplace=True)
    x = _image(32, seed=9)
    found = cam_maps_sharing(["hirescam", "xgradcam"], net, net.features, x, 1)
    for method, (result, _) in found.items():
        assert result.impl == "library" and "in place" in result.note
        expected = library_map(method, net, net.features, x, 1)
        np.testing.assert_allclose(result.map, expected, rtol=0, atol=TOLERANCE)


def test_explain_runs_the_gradient_cams_of_a_batch_in_one_pass(resnet18):
    import explainlab as xl

    x = _image(64, seed=10, n=2)
    methods = ["gradcam", "gradcamplusplus", "eigengradcam"]
    calls = []
    for inputs, target in ((x[:1], [3]), (x, [3, 7])):
        count = Counted(resnet18.conv1, resnet18.fc)
        try:
            found = xl.explain(resnet18, inputs, methods, target=target)
        finally:
            count.remove()
        calls.append(count.calls)
    # a second image costs its prediction only: the CAMs' one pass serves the batch
    assert calls[1]["front"] - calls[0]["front"] == 1
    assert calls[0]["tail_backward"] == calls[1]["tail_backward"] == 1
    for i, explanation in enumerate(found):
        for method in ("gradcamplusplus", "eigengradcam"):
            expected = library_map(method, resnet18, resnet18.layer4[-1], x[i : i + 1], [3, 7][i])
            assert np.abs(explanation.maps[method] - expected).max() <= TOLERANCE
    found = xl.explain(resnet18, x, ["gradcam", "gradcamplusplus", "eigengradcam", "fullgrad"])
    for explanation in found:
        shared = [m for m, used in explanation.impl.items() if "shared with" in used["note"]]
        assert shared == ["gradcam", "gradcamplusplus", "eigengradcam"]
        assert len({explanation.seconds[m] for m in shared}) == 1
        assert explanation.impl["fullgrad"]["impl"] == "library"


# --- known answer ---------------------------------------------------------------------------

BOX = (32, 40, 96, 104)
DISTRACTOR = (136, 128, 200, 192)


@pytest.mark.parametrize("method", GRADIENT_CAMS)
def test_the_peak_of_each_gradient_cam_is_in_the_box(method):
    net = RedInBoxNet(BOX)
    x = imagenet_tensor(red_patches_image(BOX, DISTRACTOR))
    saliency = cam_map(method, net, net.features, x, net.target).map
    row, col = np.unravel_index(saliency.argmax(), saliency.shape)
    top, left, bottom, right = BOX
    assert top <= row < bottom and left <= col < right


# --- cost ---------------------------------------------------------------------------------


def test_costs_per_image():
    def equivalents(method, impl):
        return get_method(method).passes(512, impl).forward_equivalents()

    for method in (*GRADIENT_CAMS, "fullgrad", "finercam"):
        assert equivalents(method, "fast") == equivalents(method, "library") == 3
    assert equivalents("eigencam", "fast") == equivalents("kpca_cam", "library") == 1
    assert equivalents("randomcam", "fast") == 1 and equivalents("randomcam", "library") == 3
    assert equivalents("shapleycam", "library") == 5
