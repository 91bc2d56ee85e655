"""Model registry: the real loading code on checkpoints made here in the real formats."""

from __future__ import annotations

import hashlib
import os
import pickle

import pytest
import torch
import torchvision

from explainlab import assets
from explainlab.errors import InputError, MissingAssetsError, UnknownNameError
from explainlab.models import (
    MODELS,
    canonical_layer_name,
    get_spec,
    load_model,
    resolve_device,
    resolve_layer,
)
from explainlab.models.labels import parse_places365_categories, places365_labels


def test_unknown_model_lists_known_ones():
    with pytest.raises(UnknownNameError) as err:
        get_spec("resnet1000")
    for name in ("resnet50", "resnet18", "resnet18_places365", "efficientnet_lite0"):
        assert name in str(err.value)


def test_default_target_layers():
    assert {n: s.target_layer for n, s in MODELS.items()} == {
        "resnet50": "layer4[-1]",
        "resnet18": "layer4[-1]",
        "resnet18_places365": "layer4[-1]",
        "efficientnet_lite0": "bn2",
    }


def test_layer_resolution_by_name():
    model = torchvision.models.resnet18()
    assert resolve_layer(model, "layer4[-1]") is model.layer4[1]
    assert resolve_layer(model, "layer4.1") is model.layer4[1]
    assert resolve_layer(model, "layer3[0].conv1") is model.layer3[0].conv1
    assert resolve_layer(model, "fc") is model.fc
    assert canonical_layer_name(model, "layer4[-1]") == "layer4.1"
    with pytest.raises(UnknownNameError, match=r"(?s)no child 'layer5'.*children there: conv1"):
        resolve_layer(model, "layer5")
    with pytest.raises(UnknownNameError, match="out of range"):
        resolve_layer(model, "layer4[2]")
    with pytest.raises(UnknownNameError, match="malformed"):
        resolve_layer(model, "layer4[-1]; import os")


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(UnknownNameError):
        resolve_device("tpu")


def _csail_checkpoint(path, seed=0):
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=365)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 90, "arch": "resnet18", "state_dict": state, "best_prec1": 54.7}, path)
    return model


def test_places365_checkpoint_in_csail_format(tmp_path, monkeypatch, mirror):
    ckpt = tmp_path / "mirror" / "resnet18_places365.pth.tar"
    ckpt.parent.mkdir()
    reference = _csail_checkpoint(ckpt)
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    real = assets.ASSETS["resnet18_places365.pth.tar"]
    monkeypatch.setitem(
        assets.ASSETS,
        real.filename,
        assets.Asset(
            filename=real.filename, url=real.url, checksum=f"sha256:{digest}", group=real.group
        ),
    )
    monkeypatch.setenv("EXPLAINLAB_MIRROR", os.pathsep.join([str(ckpt.parent), str(mirror)]))
    loaded = load_model("resnet18_places365", "cpu")
    assert len(loaded.class_names) == 365 and loaded.class_names[0] == "airfield"
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[key], value), key
    assert loaded.layer() is loaded.module.layer4[1]


def test_places365_missing_offline_names_url(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(tmp_path))
    with pytest.raises(MissingAssetsError, match="places2.csail.mit.edu"):
        load_model("resnet18_places365", "cpu")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_checkpoint_is_refused_and_not_executed(tmp_path):
    from explainlab.models.checkpoints import places365_state_dict

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth.tar"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _Exploit(marker)}, f)
    with pytest.raises(InputError, match="weights-only"):
        places365_state_dict(path)
    assert not marker.exists()


def test_places365_category_parsing():
    names = parse_places365_categories("/a/airfield 0\n/b/bakery/shop 1\n\n/c/campus 2\n")
    assert names == ["airfield", "bakery/shop", "campus"]


def test_places365_labels_from_mirror(mirror):
    names = places365_labels()
    assert len(names) == 365 and names[-1] == "zen_garden"


def test_torchvision_resnet_loads_from_torch_home(torch_home):
    torch.manual_seed(1)
    planted = torchvision.models.resnet18()
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    target = assets.torchvision_cache_path(weights.url)
    target.parent.mkdir(parents=True)
    torch.save(planted.state_dict(), target)
    loaded = load_model("resnet18", "cpu")
    assert torch.equal(loaded.module.fc.weight, planted.fc.weight)
    assert len(loaded.class_names) == 1000 and loaded.class_names[1] == "goldfish"
    assert not loaded.module.training


def test_torchvision_weights_missing_offline(torch_home):
    with pytest.raises(MissingAssetsError) as err:
        load_model("resnet50", "cpu")
    assert "resnet50-11ad3fa6.pth" in str(err.value)
    assert str(torch_home) in str(err.value)


def test_efficientnet_lite0_loads_strictly(lite0):
    assert lite0.module.bn2.num_features == 1280 and lite0.module.bn2.eps == pytest.approx(1e-3)
    assert isinstance(lite0.module.bn2.act, torch.nn.ReLU6)
    assert lite0.geometry.mean == (0.5, 0.5, 0.5)
    assert len(lite0.class_names) == 1000


def test_efficientnet_lite0_classifies_the_mission_images(lite0, mission_samples):
    batch = lite0.batch(list(mission_samples.values()))
    probs = lite0.probabilities(batch)
    assert torch.allclose(probs.sum(1), torch.ones(len(batch)), atol=1e-5)
    top1 = dict(zip(mission_samples, probs.argmax(1).tolist(), strict=True))
    for key in ("goldfish", "flamingo", "West_Highland_white_terrier", "orange"):
        assert top1[key] == mission_samples[key].class_id, key
    correct = sum(top1[k] == s.class_id for k, s in mission_samples.items())
    assert correct >= 7
