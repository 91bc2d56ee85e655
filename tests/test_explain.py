"""xl.explain: a plain module with a preprocessed tensor batch (as pytorch-grad-cam and
captum take them), images by path, PIL or array, LIME beside the CAMs; the records, what
is written (nothing until .save), the errors; xl.dissect_model in memory against the
dissect stage's files."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

import explainlab as xl
from explainlab.errors import InputError, UnknownNameError
from explainlab.images import to_tensor
from explainlab.methods import default_methods

GOLDFISH = "imagenet-samples/n01443537_goldfish.JPEG"
FLAMINGO = "imagenet-samples/n02007558_flamingo.JPEG"
LIME = {"params": {"num_samples": 40, "batch_size": 40}}  # a cheap LIME: the shape, not quality


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    """A plain random-weight torchvision ResNet18, left in training mode as built."""
    torch.manual_seed(0)
    return torchvision.models.resnet18()


def _grad_cam(module, layer, x, targets) -> np.ndarray:
    """pytorch-grad-cam called as its README does."""
    cam = GradCAM(module, [module.get_submodule(layer)])
    try:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in targets])
    finally:
        cam.activations_and_grads.release()


def test_a_plain_module_and_a_tensor_batch(resnet):
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    grads = [p.grad for p in resnet.parameters()]
    found = xl.explain(resnet, x, "gradcam", target=[1, 207])
    assert resnet.training and all(
        p.grad is g for p, g in zip(resnet.parameters(), grads, strict=True)
    )
    assert [e.key for e in found] == ["image_0", "image_1"]
    assert [(e.target, e.target_name) for e in found] == [
        (1, "goldfish"),
        (207, "golden retriever"),
    ]
    for e, tensor in zip(found, x, strict=True):
        assert e.layer == "layer4" and list(e.maps) == ["gradcam"] and e.raw == {}
        assert e.crop.shape == (224, 224, 3) and e.crop.dtype == np.uint8
        assert (e.crop.min(), e.crop.max()) == (0, 255)  # no known preprocessing: min-max
        torch.testing.assert_close(e.tensor, tensor, rtol=0, atol=0)
        saliency = e.maps["gradcam"]
        assert saliency.shape == (224, 224) and saliency.dtype == np.float32
        assert saliency.min() >= 0.0 and saliency.max() <= 1.0
        assert len(e.prediction["top_ids"]) == 5 and e.prediction["top_probs"] == sorted(
            e.prediction["top_probs"], reverse=True
        )
        assert e.impl["gradcam"]["impl"] == "fast" and e.seconds["gradcam"] > 0
        assert e.provenance["geometry"] is None and e.provenance["source"] == "<tensor>"
    reference = _grad_cam(resnet.eval(), "layer4", x, [1, 207])
    resnet.train()
    for e, expected in zip(found, reference, strict=True):
        assert np.abs(e.maps["gradcam"] - expected).max() <= 1e-5

    # no target: each input's top-1 class, as the module ranks them
    top1 = xl.explain(resnet, x, "gradcam")
    with torch.no_grad():
        expected_top1 = resnet.eval()(x).argmax(dim=1).tolist()
    resnet.train()
    assert [e.target for e in top1] == expected_top1 == [e.prediction["top_ids"][0] for e in top1]
    # one (3, H, W) tensor is one input
    single = xl.explain(resnet, x[1], "gradcam", target=207)
    np.testing.assert_array_equal(single[0].maps["gradcam"], found[1].maps["gradcam"])


def test_no_methods_means_the_cheap_ones_and_a_costly_one_says_its_cost_first(resnet, capsys):
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    [found] = xl.explain(resnet, x, target=1)
    assert list(found.maps) == list(default_methods())
    assert {"gradcam", "gradcamplusplus", "saliency"} <= set(found.maps)
    assert not {"scorecam", "ablationcam", "occlusion", "rise", "lime", "randomcam"} & set(
        found.maps
    )
    assert capsys.readouterr().err == ""  # nothing costly: nothing to announce
    xl.explain(resnet, x, ["gradcam", "scorecam", "rise"], target=1)
    err = capsys.readouterr().err
    assert "Grad-CAM" not in err
    assert "ScoreCAM ≈" in err and "per image 512 forward;" in err  # layer4's channels
    assert "RISE ≈" in err and "per image 1,000 forward;" in err


def test_the_calls_issue_20_reports_failing(resnet, mirror):
    """A plain module with a tensor or with paths, a wrapped one with a tensor."""
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    for model, inputs in ((resnet, x), (resnet, [mirror / GOLDFISH]), (xl.wrap(resnet), x)):
        [found] = xl.cam_maps(model, inputs, methods=["gradcam"])
        assert found.maps["gradcam"].shape == found.crop.shape[:2]


def test_images_by_path_pil_and_array_through_a_geometry(resnet, mirror):
    path = mirror / GOLDFISH
    geometry = xl.Geometry(resize=160, crop=128)
    model = xl.wrap(resnet, geometry=geometry, name="random_resnet18")
    pil = Image.open(path).convert("RGB")
    found = xl.explain(model, [path, pil, np.asarray(pil)], "gradcam", target=1)
    assert [e.key for e in found] == ["n01443537_goldfish", "image_1", "image_2"]
    crop = found[0].crop
    assert crop.shape == (128, 128, 3) and found[0].provenance["source"] == str(path)
    for e in found:
        np.testing.assert_array_equal(e.crop, crop)
        torch.testing.assert_close(e.tensor, to_tensor(crop, geometry))
        np.testing.assert_array_equal(e.maps["gradcam"], found[0].maps["gradcam"])
        assert e.maps["gradcam"].shape == (128, 128) and e.target_name == "goldfish"
    reference = _grad_cam(resnet.eval(), found[0].layer, found[0].tensor[None], [1])[0]
    assert np.abs(found[0].maps["gradcam"] - reference).max() <= 1e-5
    # the crop's tensor, given as a tensor: pictured back into the same crop
    as_tensor = xl.explain(model, found[0].tensor, "gradcam", target=1)[0]
    np.testing.assert_array_equal(as_tensor.crop, crop)
    np.testing.assert_array_equal(as_tensor.maps["gradcam"], found[0].maps["gradcam"])
    # a plain module with a path: xl.wrap's default geometry, said in the provenance
    plain = xl.explain(resnet, [path], "gradcam", target=1)[0]
    wrapped = xl.explain(xl.wrap(resnet), [path], "gradcam", target=1)[0]
    np.testing.assert_array_equal(plain.maps["gradcam"], wrapped.maps["gradcam"])
    assert plain.crop.shape == (224, 224, 3)
    assert plain.provenance["preprocessing"].startswith("assumed (xl.wrap's default)")


def test_explain_writes_nothing_and_save_writes_the_files(resnet, mirror, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    model = xl.wrap(resnet, name="random_resnet18")
    found = xl.explain(model, [mirror / GOLDFISH], ["gradcam", "lime"], target=1, lime=LIME)
    assert os.listdir(cwd) == []
    e = found[0]
    lime = e.raw["lime"]
    assert isinstance(lime, xl.LimeExplanation) and lime.label == e.target == 1
    np.testing.assert_array_equal(lime.crop, e.crop)
    assert e.maps["lime"].dtype == np.float32 and e.maps["lime"].max() == 1.0
    assert e.impl["lime"] == {"impl": "fast", "note": ""}

    folder = e.save(tmp_path / "out")
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"gradcam.npy", "gradcam.png", "lime.npy", "lime.png", "panel.png", "item.json"} <= names
    assert {"lime/segments.npy", "lime/mask.npy", "lime/weights.json", "lime/panel.png"} <= names
    np.testing.assert_array_equal(np.load(folder / "gradcam.npy"), e.maps["gradcam"])
    item = json.loads((folder / "item.json").read_text())
    assert (item["key"], item["target_name"], item["model"]) == (
        e.key,
        "goldfish",
        "random_resnet18",
    )

    # each CAM against the LIME of its own Explanation, as against LIME's records
    table = xl.agreement(found)
    assert set(table["method"]) == {"gradcam"}
    pd.testing.assert_frame_equal(table, xl.agreement(found, [lime]))


def test_lime_on_a_tensor_needs_a_known_preprocessing(resnet, mirror):
    model = xl.wrap(resnet, name="random_resnet18")
    [from_path] = xl.explain(model, [mirror / GOLDFISH], ["lime"], target=1, lime=LIME)
    [from_tensor] = xl.explain(model, from_path.tensor, ["lime"], target=1, lime=LIME)
    np.testing.assert_array_equal(from_tensor.crop, from_path.crop)
    assert from_tensor.raw["lime"].weights == from_path.raw["lime"].weights
    assert "picture of the tensor" in from_tensor.impl["lime"]["note"]
    with pytest.raises(InputError, match="LIME perturbs the image the model sees") as err:
        xl.explain(resnet, from_path.tensor, ["lime"])
    assert "xl.wrap(module, geometry=...)" in str(err.value.hint)


def test_mistakes_are_named(resnet):
    x = torch.zeros(2, 3, 64, 64)
    with pytest.raises(ValueError, match=r"unknown method 'gradcamm' \(did you mean gradcam"):
        xl.explain(resnet, x, ["gradcamm"])
    with pytest.raises(InputError, match="3 targets for 2 inputs"):
        xl.explain(resnet, x, target=[1, 2, 3])
    with pytest.raises(UnknownNameError, match="target class 1000 does not exist"):
        xl.explain(resnet, x, target=1000)
    with pytest.raises(InputError, match=r"must be \(N, 3, H, W\) or \(3, H, W\)"):
        xl.explain(resnet, torch.zeros(64, 64))
    with pytest.raises(InputError, match="cannot use a int as an image"):
        xl.explain(resnet, [3])


def test_efficientnet_lite0_on_two_mission_images(lite0, mission_samples, mirror):
    found = xl.explain(lite0, [mirror / GOLDFISH, mirror / FLAMINGO], ["gradcam", "ablationcam"])
    assert [e.target_name for e in found] == ["goldfish", "flamingo"]
    assert [e.key for e in found] == ["n01443537_goldfish", "n02007558_flamingo"]
    for e, key in zip(found, ("goldfish", "flamingo"), strict=True):
        sample = mission_samples[key]
        np.testing.assert_array_equal(e.crop, sample.crop)
        assert e.layer == "bn2" and e.prediction["top_probs"][0] > 0.5
        reference = _grad_cam(lite0.module, "bn2", sample.tensor[None], [e.target])[0]
        assert np.abs(e.maps["gradcam"] - reference).max() <= 1e-5
    # cam_maps is explain with the CAM methods
    [alias] = xl.cam_maps(lite0, [mirror / FLAMINGO], methods=["gradcam"])
    np.testing.assert_array_equal(alias.maps["gradcam"], found[1].maps["gradcam"])


def test_dissect_model_in_memory_equals_the_stage(tmp_path, monkeypatch):
    import tempfile

    from explainlab.dissect.activations import TargetModel
    from explainlab.dissect.run import run_dissect
    from explainlab.dissect.settings import DissectSettings
    from test_dissect_pipeline import (
        DISTRACTORS,
        WORDS,
        PlantedNet,
        SyntheticClip,
        _planted,
        write_probe_images,
    )

    probe = tmp_path / "probe"
    write_probe_images(probe, 150)
    concepts = tmp_path / "grid.txt"
    concepts.write_text("\n".join(WORDS + DISTRACTORS) + "\n")
    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path / "cache"))
    scratch = tmp_path / "scratch"  # where a temporary folder would go
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    model = xl.wrap(PlantedNet(*_planted()), classes=["a", "b", "c"], name="planted")

    units = xl.dissect_model(
        model,
        layers=["layer_a", "layer_b"],
        probe=probe,
        concepts=concepts,
        encoder=SyntheticClip(),
    )
    assert os.listdir(scratch) == []
    settings = DissectSettings(
        models=("planted",),
        layers=("layer_a", "layer_b"),
        probe=(str(probe),),
        concept_set=str(concepts),
        num_workers=0,
    )
    target = TargetModel(
        name="planted",
        module=model.module,
        geometry=model.geometry,
        weights=model.spec.weights_source,
    )
    outcome = run_dissect(
        settings, tmp_path / "run", targets={"planted": target}, encoder=SyntheticClip()
    )
    stage = outcome.folders["planted"]
    saved = units.save(tmp_path / "saved")
    for name in ("descriptions.csv", "top_concepts.csv", "args.json"):
        assert (saved / name).read_bytes() == (stage / name).read_bytes(), name
    pd.testing.assert_frame_equal(units.labels, pd.read_csv(stage / "descriptions.csv"))
    pd.testing.assert_frame_equal(units.top_concepts, pd.read_csv(stage / "top_concepts.csv"))
    assert len(units.labels) == 24 + 32 and units.args["model"] == "planted"
