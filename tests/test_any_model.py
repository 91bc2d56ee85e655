"""Any classifier through the Python API: torchvision and timm models by name (random
weights where trained ones cannot be had offline), a state dict with its architecture,
TorchScript, one's own module; the target layer located or the transformer family's;
fast CAMs against pytorch-grad-cam on each; LIME and the agreement on each."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import explainlab as xl
from explainlab.errors import InputError, UnknownNameError
from explainlab.masks import iou

GOLDFISH = "imagenet-samples/n01443537_goldfish.JPEG"
TOLERANCE = 1e-4  # fast vs pytorch-grad-cam, every map value

# (model, CAM methods compared with the library, the target layer it gets, how)
ARCHITECTURES = [
    ("torchvision:mobilenet_v3_small:none", ("gradcam", "ablationcam", "scorecam"), "features"),
    ("torchvision:densenet121:none", ("gradcam",), "features"),
    ("timm:convnext_atto:none", ("gradcam", "ablationcam", "scorecam"), "norm_pre"),
    ("timm:vit_tiny_patch16_224:none", ("gradcam", "scorecam"), "blocks.11.norm1"),
    ("timm:deit_tiny_distilled_patch16_224:none", ("gradcam",), "blocks.11.norm1"),
    ("timm:swin_tiny_patch4_window7_224:none", ("gradcam",), "layers.3.blocks.1.norm1"),
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(("name", "methods", "layer"), ARCHITECTURES, ids=lambda v: str(v))
def test_cam_lime_and_agreement_on_each_architecture(name, methods, layer, mirror):
    model = xl.load_model(name, "cpu")
    assert model.spec.random_weights and len(model.class_names) == 1000
    image = mirror / GOLDFISH
    fast = xl.cam_maps(model, [image], methods=methods)[0]
    library = xl.cam_maps(model, [image], methods=methods, impl="library")[0]
    crop = model.geometry.crop
    assert fast.layer == layer and fast.crop.shape == (crop, crop, 3)
    transformer = "vit" in name or "deit" in name or "swin" in name
    for method in methods:
        saliency = fast.maps[method]
        assert saliency.shape == (crop, crop) and np.isfinite(saliency).all()
        assert saliency.min() >= 0.0 and saliency.max() <= 1.0
        np.testing.assert_allclose(saliency, library.maps[method], atol=TOLERANCE, err_msg=method)
        used = fast.impl[method]
        if transformer and method != "gradcam":  # the reshape is the library's: handed over
            assert used["impl"] == "library" and "reshape_transform" in used["note"]
        elif transformer:  # Grad-CAM's one shared pass reshapes the tokens itself
            assert used["impl"] == "fast"
        elif used["impl"] == "library":
            assert used["note"], f"{method}: fell back without a reason"
    limes = xl.lime_explanations(model, [image], params={"num_samples": 30, "batch_size": 30})
    assert limes[0].segments.shape == (crop, crop) and limes[0].mask.shape == (crop, crop)
    table = xl.agreement([fast], limes)
    assert set(table["method"]) == set(methods)
    # a rank correlation is undefined (NaN) where random weights make LIME's weights constant
    undefined = table[~np.isfinite(table["value"])]
    assert set(undefined["measure"]) <= {"superpixel_rho", "superpixel_p"}


def test_a_state_dict_with_its_architecture_and_class_names(tmp_path, mirror):
    import torchvision

    torch.manual_seed(1)
    original = torchvision.models.mobilenet_v3_small(num_classes=7).eval()
    path = tmp_path / "mine.pth"
    torch.save(
        {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in original.state_dict().items()}},
        path,
    )
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(f"kind {i}" for i in range(7)) + "\n")
    model = xl.load_model(str(path), "cpu", arch="torchvision:mobilenet_v3_small", classes=names)
    assert model.class_names == [f"kind {i}" for i in range(7)]  # 7 classes, from the checkpoint
    assert model.geometry == xl.load_model("torchvision:mobilenet_v3_small:none", "cpu").geometry
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(model.module(x), original(x))
    cams = xl.cam_maps(model, [mirror / GOLDFISH], methods=["gradcam"])
    assert cams[0].target_name.startswith("kind ")


def test_a_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    import torchvision

    state = torchvision.models.resnet18(num_classes=5).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["layer4.1.bn2.bias"]
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(InputError) as err:
        xl.load_model(str(path), "cpu", arch="torchvision:resnet18")
    text = str(err.value)
    assert (
        "missing keys (1): layer4.1.bn2.bias" in text
        and "unexpected keys (1): extra.weight" in text
    )


def test_a_checkpoint_with_code_in_it_is_refused_not_run(tmp_path):
    import os
    import pickle

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = tmp_path / "hostile.pth"
    path.write_bytes(pickle.dumps({"state_dict": Hostile()}))
    with pytest.raises(InputError, match="weights-only"):
        xl.load_model(str(path), "cpu", arch="torchvision:resnet18")
    assert not (tmp_path / "pwned").exists()


def test_torchscript_export_of_the_offline_model(tmp_path, lite0, mirror):
    scripted = torch.jit.trace(lite0.module, torch.zeros(1, 3, 224, 224))
    path = tmp_path / "lite0.pt"
    scripted.save(str(path))
    image = mirror / GOLDFISH
    plain = xl.load_model(str(path), "cpu")  # LIME only: a ScriptModule cannot be hooked
    assert plain.class_names == lite0.class_names
    limes = xl.lime_explanations(plain, [image], params={"num_samples": 30, "batch_size": 30})
    assert limes[0].label_name == "goldfish"
    with pytest.raises(UnknownNameError, match="TorchScript model cannot be hooked"):
        xl.cam_maps(plain, [image], methods=["gradcam"])
    # with its architecture, the script's weights go into the eager model: CAMs work
    eager = xl.load_model(str(path), "cpu", arch="timm:tf_efficientnet_lite0")
    assert eager.geometry == xl.load_model("timm:tf_efficientnet_lite0:none", "cpu").geometry
    cams = xl.cam_maps(eager, [image], methods=["gradcam"])
    reference = xl.cam_maps(lite0, [image], methods=["gradcam"], layer="bn2")
    assert cams[0].target_name == "goldfish"
    np.testing.assert_allclose(
        xl.samples(eager, [image])[0].tensor, xl.samples(lite0, [image])[0].tensor
    )
    assert iou(cams[0].maps["gradcam"] >= 0.5, reference[0].maps["gradcam"] >= 0.5) > 0.8


def test_ones_own_module_with_the_planted_evidence(mirror):
    """The planted known-answer model, wrapped: its evidence still lies in its box."""
    from helpers import RedInBoxNet, red_patches_image

    box = (64, 64, 128, 128)
    net = RedInBoxNet(box)
    model = xl.wrap(net, classes=[f"c{i}" for i in range(5)], name="red_in_box")
    image = red_patches_image(box, (150, 150, 200, 200))
    geometry = xl.Geometry(resize=224, crop=224)
    model = xl.wrap(net, geometry=geometry, classes=[f"c{i}" for i in range(5)], name="planted")
    cams = xl.cam_maps(model, [image], methods=["gradcam", "ablationcam", "scorecam"])
    assert cams[0].layer == "features" and cams[0].target == net.target
    inside = np.zeros((224, 224), bool)
    inside[box[0] : box[2], box[1] : box[3]] = True
    for method, saliency in cams[0].maps.items():
        assert iou(saliency >= 0.5, inside) > 0.6, method
    limes = xl.lime_explanations(model, [image], params={"num_samples": 200, "batch_size": 100})
    assert iou(limes[0].mask, inside) > 0.3


def test_target_layer_errors_list_the_candidates():
    model = xl.load_model("torchvision:mobilenet_v3_small:none", "cpu")
    with pytest.raises(UnknownNameError) as err:
        model.cam_target("features.99")
    assert "features.12" in str(err.value.hint) and "features" in str(err.value.hint)


def test_a_model_without_a_spatial_layer_or_known_reshape_is_refused():
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    model = xl.wrap(flat, geometry=xl.Geometry(resize=32, crop=32), name="mlp")
    with pytest.raises(UnknownNameError, match="no layer gives a spatial map"):
        model.cam_target()


def test_not_a_classifier_is_named():
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    with pytest.raises(InputError, match="not a classifier"):
        xl.wrap(backbone, name="backbone")


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("torchvision:resnet51", "close matches: resnet50"),
        (
            "torchvision:resnet50:IMAGENET1K_V9",
            "valid weights: DEFAULT, IMAGENET1K_V1, IMAGENET1K_V2",
        ),
        ("timm:convnext_tinyy", "close matches: convnext_tiny"),
        ("no_such_model", "torchvision:NAME[:WEIGHTS]"),
    ],
)
def test_bad_model_names_get_what_would_be_valid(name, needle):
    with pytest.raises(UnknownNameError) as err:
        xl.load_model(name, "cpu")
    assert needle in str(err.value)


def test_timm_weights_from_the_mirror(tmp_path, monkeypatch):
    """Offline, timm's pretrained weights come from a mirror copy named after the model."""
    import timm
    from safetensors.torch import save_file

    from explainlab import assets

    torch.manual_seed(3)
    source = timm.create_model("convnext_atto", pretrained=False)
    save_file(source.state_dict(), str(tmp_path / "timm-convnext_atto.safetensors"))
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(tmp_path))
    assets._mirror_index.cache_clear()
    model = xl.load_model("timm:convnext_atto", "cpu")
    assert not model.spec.random_weights
    torch.testing.assert_close(model.module.stem[0].weight, source.stem[0].weight)
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(tmp_path / "empty"))
    assets._mirror_index.cache_clear()
    from explainlab.errors import MissingAssetsError

    with pytest.raises(MissingAssetsError, match="timm-convnext_atto.safetensors"):
        xl.load_model("timm:convnext_atto", "cpu")


def test_import_explainlab_is_light():
    import subprocess
    import sys

    code = "import sys, explainlab as xl; xl.__version__; print(sorted(m for m in ('torch', 'pandas', 'lime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
