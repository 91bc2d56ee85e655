"""The real open_clip code path with random weights (``pretrained=None``), OpenAI's own
checkpoint path on a stand-in in OpenAI's format (a TorchScript archive written here),
and the registry models (a Places365 checkpoint written here in the CSAIL format)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pandas as pd
import pytest
import torch
import torchvision

from explainlab import assets
from explainlab.config import load_config
from explainlab.dissect.clip_features import OpenClipEncoder, clip_identity
from explainlab.dissect.run import run_dissect
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import ConfigError, MissingAssetsError, UnknownNameError
from explainlab.images import open_rgb
from helpers import install_clip_stand_in

WORDS = ["red", "a dog on a sofa", "wine cellar-bottle storage", "tench, Tinca tinca", "x"]
CONFIGURED = load_config("assignment").dissect  # the shipped assignment config


@pytest.fixture(scope="module")
def encoder():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield OpenClipEncoder(CONFIGURED.clip_model, "none", seed=0)
    torch.set_num_threads(threads)


def _activations(model: torch.nn.Module) -> set[type]:
    """The MLP activation classes of every residual block, both towers."""
    return {type(block.mlp.gelu) for block in model.modules() if hasattr(block, "mlp")}


def test_the_configured_clip_is_built_with_quick_gelu(encoder):
    """OpenAI's weights were trained with QuickGELU; open_clip's plain ViT-B-16 is GELU."""
    from open_clip.transformer import QuickGELU

    assert CONFIGURED.clip_pretrained == "openai"
    assert _activations(encoder.model) == {QuickGELU}
    blocks = [m for m in encoder.model.modules() if hasattr(m, "mlp")]
    assert len(blocks) == 24  # 12 image + 12 text blocks of ViT-B/16, every one checked
    assert encoder.identity["activation"] == "quick_gelu"


def test_a_gelu_model_with_quick_gelu_weights_is_refused():
    with pytest.raises(ConfigError, match="ViT-B-16-quickgelu"):
        OpenClipEncoder("ViT-B-16", "dfn2b")  # DFN's weights need QuickGELU too


def test_open_clips_quick_gelu_warning_is_an_error(monkeypatch):
    """Behind the static check, the warning open_clip gives for a mismatch still stops us."""
    import open_clip.factory

    from explainlab.dissect import clip_features

    def tag_config(model_name, tag):
        return {"quick_gelu": True, "mean": (0.5,) * 3, "std": (0.5,) * 3}

    def no_file(*args, **kwargs):
        raise AssertionError("the weights must not be loaded after the mismatch warning")

    monkeypatch.setattr(clip_features, "_check_names", lambda *a: None)
    monkeypatch.setattr(clip_features, "_cached_weights", lambda *a: True)
    monkeypatch.setattr(open_clip.factory, "get_pretrained_cfg", tag_config)
    monkeypatch.setattr(open_clip.factory, "download_pretrained", lambda *a, **k: "/nonexistent")
    monkeypatch.setattr(open_clip.factory, "load_checkpoint", no_file)
    with pytest.raises(ConfigError, match="QuickGELU mismatch"):
        OpenClipEncoder("ViT-B-16", "laion400m_e31")


def test_random_open_clip_encodes_images_and_words(encoder, mirror):
    image = open_rgb(mirror / "imagenet-samples" / "n01443537_goldfish.JPEG")
    x = encoder.preprocess(image)
    assert x.shape == (3, 224, 224)  # CLIP's own preprocessing: resize 224, centre crop
    feats = encoder.encode_images(torch.stack([x, x]))
    assert feats.shape == (2, 512) and torch.allclose(feats[0], feats[1], atol=1e-5)
    text = encoder.encode_texts(WORDS)
    assert text.shape == (5, 512) and torch.isfinite(text).all()
    assert "RANDOM" in encoder.note
    assert encoder.identity == {
        "open_clip": "ViT-B-16-quickgelu",
        "activation": "quick_gelu",
        "precision": "fp32",
        "pretrained": None,
        "random_seed": 0,
    }


def test_trimmed_text_encoding_equals_open_clip(encoder):
    trimmed = encoder.encode_texts(WORDS)
    tokens = encoder.tokenizer(WORDS)
    with torch.inference_mode():
        full = encoder.model.encode_text(tokens).float()  # open_clip's own, 77 tokens
    torch.testing.assert_close(trimmed, full, rtol=1e-4, atol=1e-5)


def test_random_weights_are_reproducible_from_the_seed(encoder):
    again = OpenClipEncoder(CONFIGURED.clip_model, "none", seed=0)
    torch.testing.assert_close(again.encode_texts(WORDS[:2]), encoder.encode_texts(WORDS[:2]))


def test_tokenizer_vocabulary_ships_with_open_clip():
    import open_clip

    vocab = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    assert os.path.isfile(vocab)  # so tokenizing never downloads anything


def test_missing_openai_weights_offline_is_one_clear_error(tmp_path):
    with pytest.raises(MissingAssetsError) as err:
        OpenClipEncoder(CONFIGURED.clip_model, "openai")
    text = str(err.value)
    assert "ViT-B-16.pt" in text  # OpenAI's file, from OpenAI's URL, as the reference
    assert "openaipublic.azureedge.net/clip/models/5806e77c" in text


def test_missing_hub_weights_offline_is_one_clear_error(tmp_path):
    with pytest.raises(MissingAssetsError) as err:
        OpenClipEncoder("ViT-B-16", "laion400m_e31", cache_dir=str(tmp_path))
    assert "vit_base_patch16_clip_224.laion400m_e31" in str(err.value)
    assert "clip_pretrained 'none'" in str(err.value)


def test_unknown_clip_names():
    with pytest.raises(UnknownNameError, match="unknown open_clip model"):
        OpenClipEncoder("ViT-Q-99", "none")
    with pytest.raises(UnknownNameError, match="no pretrained weights 'nonsense'"):
        OpenClipEncoder("ViT-B-16", "nonsense")


def test_clip_identity_names_activation_weights_and_precision():
    identity = clip_identity(CONFIGURED.clip_model, "openai", 0)
    assert identity == {
        "open_clip": "ViT-B-16-quickgelu",
        "activation": "quick_gelu",
        "precision": "fp32",
        "pretrained": "openai",
        "weights": "ViT-B-16.pt",
        "weights_checksum": "sha256:5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
    }
    # the reference's fp16 runs on a GPU only; on a CPU it is fp32, as clip.load does
    fp16 = {"precision": "fp16"}
    assert clip_identity(CONFIGURED.clip_model, "openai", 0, **fp16)["precision"] == "fp32"
    on_gpu = clip_identity(CONFIGURED.clip_model, "openai", 0, **fp16, device="cuda")
    assert on_gpu["precision"] == "fp16"
    # plain ViT-B-16 (GELU) has another identity: no feature cache of it is reused
    assert clip_identity("ViT-B-16", "none", 0) != clip_identity(CONFIGURED.clip_model, "none", 0)


def test_openai_checkpoint_is_checked_then_built_with_quick_gelu(tmp_path, monkeypatch, mirror):
    from open_clip.transformer import QuickGELU

    folder = tmp_path / "mirror"
    model = install_clip_stand_in(folder, monkeypatch)
    path = folder / "ViT-B-16.pt"
    stand_in = assets.ASSETS["ViT-B-16.pt"]
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(folder))
    encoder = OpenClipEncoder(CONFIGURED.clip_model, "openai", seed=0)
    assert _activations(encoder.model) == {QuickGELU}
    assert encoder.identity["weights_checksum"] == stand_in.checksum
    image = open_rgb(mirror / "imagenet-samples" / "n01443537_goldfish.JPEG")
    x = encoder.preprocess(image)[None]
    with torch.inference_mode():
        expected_image = model.encode_image(x)
        expected_text = model.encode_text(encoder.tokenizer(WORDS))
    torch.testing.assert_close(encoder.encode_images(x), expected_image, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(encoder.encode_texts(WORDS), expected_text, rtol=1e-4, atol=1e-5)
    # a file that is not OpenAI's (another checksum) is never loaded
    path.write_bytes(path.read_bytes() + b"tampered")
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(tmp_path / "elsewhere"))
    with pytest.raises(MissingAssetsError, match="ViT-B-16.pt"):
        OpenClipEncoder(CONFIGURED.clip_model, "openai", seed=0)


def _csail_checkpoint(path, seed=0):
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=365)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 90, "arch": "resnet18", "state_dict": state}, path)


def test_dissect_places365_checkpoint_with_random_clip(tmp_path, monkeypatch, mirror):
    # the registry's Places365 loader on a checkpoint in the CSAIL format
    ckpt = tmp_path / "mirror" / "resnet18_places365.pth.tar"
    ckpt.parent.mkdir()
    _csail_checkpoint(ckpt)
    real = assets.ASSETS[ckpt.name]
    digest = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    monkeypatch.setitem(
        assets.ASSETS,
        ckpt.name,
        assets.Asset(
            filename=ckpt.name, url=real.url, checksum=f"sha256:{digest}", group=real.group
        ),
    )
    monkeypatch.setenv("EXPLAINLAB_MIRROR", os.pathsep.join([str(ckpt.parent), str(mirror)]))
    probe = tmp_path / "probe"
    shutil.copytree(mirror / "imagenet-samples", probe)
    concepts = tmp_path / "words.txt"
    concepts.write_text("\n".join(WORDS) + "\n")
    settings = DissectSettings(
        models=("resnet18_places365",),
        layers=("layer2", "layer3", "layer4[-1]", "fc"),
        probe=(str(probe),),
        probe_limit=6,
        concept_set=str(concepts),
        clip_pretrained="none",
        similarity_params={"top_k": 3},
        num_workers=0,
        batch_size=3,
        cache_dir=str(tmp_path / "cache"),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        outcome = run_dissect(settings, tmp_path / "run", device="cpu")
    finally:
        torch.set_num_threads(threads)
    folder = outcome.folders["resnet18_places365"]
    table = pd.read_csv(folder / "descriptions.csv")
    assert table.groupby("layer").size().to_dict() == {
        "layer2": 128,
        "layer3": 256,
        "layer4.1": 512,
        "fc": 365,
    }
    assert set(table["description"]) <= set(WORDS)
    args = json.loads((folder / "args.json").read_text())
    assert args["probe"]["images"] == 6 and args["weights"].startswith("ResNet18, CSAIL")
    assert any("RANDOM" in note for note in args["notes"])  # said in the outputs
    assert args["clip"]["identity"]["pretrained"] is None


def test_failed_download_online_is_an_error_not_random_weights(monkeypatch, tmp_path):
    """open_clip only logs a failed download and returns random weights; we must refuse."""
    import open_clip.factory

    def no_network(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setenv("EXPLAINLAB_OFFLINE", "0")
    monkeypatch.setattr(open_clip.factory, "download_pretrained", no_network)
    with pytest.raises(MissingAssetsError, match="ViT-B-16"):
        OpenClipEncoder("ViT-B-16", "laion400m_e31", cache_dir=str(tmp_path))
