"""A CLIP checkpoint file as ``clip_pretrained`` (what the reference's ``clip.load(path)``
takes): OpenAI's TorchScript archive and state dicts in OpenAI's and open_clip's layouts
give the features of the module they were saved from; anything else is explainlab's own
error naming the file, and a pickle with code in it is never run."""

from __future__ import annotations

import hashlib
import random
import shutil

import pytest
import torch
import torchvision
from PIL import Image

from explainlab.dissect import clip_features
from explainlab.dissect.clip_features import OpenClipEncoder, clip_identity
from explainlab.errors import InputError
from helpers import TINY_CLIP_CONFIG, openai_archive, tiny_openai_clip

TOLERANCE = 1e-5  # largest absolute difference of a feature, loaded file vs source module
TINY = "Tiny-ViT-quickgelu"  # TINY_CLIP_CONFIG under a name open_clip knows
WORDS = ["red", "a dog on a sofa", "wine cellar-bottle storage", "x"]


@pytest.fixture(scope="module")
def source():
    """The module (fp32, weights rounded to fp16) and its state in OpenAI's format."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_openai_clip(seed=0)
    torch.set_num_threads(threads)


@pytest.fixture
def tiny(monkeypatch) -> str:
    """A state dict fills the architecture ``clip_model`` names: the tiny one, registered."""
    import open_clip.factory

    monkeypatch.setitem(open_clip.factory._MODEL_CONFIGS, TINY, TINY_CLIP_CONFIG)
    return TINY


def _torchscript(model, state, path):
    openai_archive(state, path)  # OpenAI's format: a TorchScript archive of these tensors


def _openai_state_dict(model, state, path):
    torch.save(state, path)  # fp16, with OpenAI's three size entries


def _open_clip_checkpoint(model, state, path):
    # open_clip's training checkpoint: under state_dict, DataParallel's prefix
    weights = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 3, "name": "tiny", "state_dict": weights}, path)


def _safetensors(model, state, path):
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(path))


FORMATS = {
    "openai-torchscript": ("ViT-B-16.pt", _torchscript),
    "openai-state-dict": ("openai_state.pt", _openai_state_dict),
    "open_clip-checkpoint": ("epoch_3.pt", _open_clip_checkpoint),
    "open_clip-safetensors": ("open_clip_model.safetensors", _safetensors),
}


def _images() -> list[Image.Image]:
    rng = random.Random(0)
    return [Image.frombytes("RGB", (96, 80), rng.randbytes(96 * 80 * 3)) for _ in range(3)]


@pytest.mark.parametrize("kind", FORMATS)
def test_a_clip_file_gives_the_features_of_its_source_module(kind, source, tiny, tmp_path):
    from open_clip.transformer import QuickGELU

    model, state = source
    filename, write = FORMATS[kind]
    path = tmp_path / filename
    write(model, state, path)
    # seed 1: weights that were not loaded would be another random CLIP than the source
    encoder = OpenClipEncoder(tiny, str(path), seed=1)
    assert encoder.identity == {
        "open_clip": TINY,
        "activation": "quick_gelu",
        "precision": "fp32",
        "pretrained_file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    assert {type(b.mlp.gelu) for b in encoder.model.modules() if hasattr(b, "mlp")} == {QuickGELU}
    x = torch.stack([encoder.preprocess(image) for image in _images()])
    with torch.inference_mode():
        expected_image = model.encode_image(x)
        expected_text = model.encode_text(encoder.tokenizer(WORDS))
    image_diff = (encoder.encode_images(x) - expected_image).abs().max().item()
    text_diff = (encoder.encode_texts(WORDS) - expected_text).abs().max().item()
    print(f"{kind}: max |difference| image {image_diff:.3g}, text {text_diff:.3g}")
    assert image_diff <= TOLERANCE and text_diff <= TOLERANCE
    assert expected_image.abs().max() > 100 * TOLERANCE  # the features are not all ~0


def test_openai_archive_is_quick_gelu_whatever_the_name_a_state_dict_is_the_names(source, tmp_path):
    """As for the registered ``openai`` weights, OpenAI's format means QuickGELU; a state
    dict carries no activation, so the model name says it (and enters the identity)."""
    model, state = source
    archive, weights = tmp_path / "ViT-B-16.pt", tmp_path / "state.pt"
    _torchscript(model, state, archive)
    _openai_state_dict(model, state, weights)
    assert clip_identity("ViT-B-16", str(archive), 0)["activation"] == "quick_gelu"
    assert clip_identity("ViT-B-16", str(weights), 0)["activation"] == "gelu"
    assert clip_identity("ViT-B-16-quickgelu", str(weights), 0)["activation"] == "quick_gelu"


def test_the_cache_identity_is_the_files_content(source, tmp_path):
    model, state = source
    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    _openai_state_dict(model, state, first)
    _openai_state_dict(model, tiny_openai_clip(seed=1)[1], second)
    copy = shutil.copy(first, tmp_path / "copy.pt")
    identity = clip_identity(TINY, str(first), 0)
    assert identity != clip_identity(TINY, str(second), 0)
    assert identity == clip_identity(TINY, str(copy), 0)  # by content, not by path
    assert identity["pretrained_file_sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()


class _Payload:
    """Unpickled, it creates ``marker``: what a hostile checkpoint could do instead."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _corrupt(path, source):
    path.write_bytes(random.Random(0).randbytes(4096))


def _truncated_archive(path, source):
    full = path.with_name("full.pt")
    _torchscript(*source, full)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _resnet18_state_dict(path, source):
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), path)


def _resnet18_torchscript(path, source):
    torch.manual_seed(0)
    torch.jit.script(torchvision.models.resnet18()).save(str(path))


def _hostile_pickle(path, source):
    torch.save({"state_dict": _Payload(path.with_name("marker"))}, path)


def _folder(path, source):
    path.mkdir()


def _missing(path, source):
    pass


NOT_CLIP = {
    "corrupt": (_corrupt, "not a loadable weights-only checkpoint"),
    "truncated-archive": (_truncated_archive, "not a loadable weights-only checkpoint"),
    "resnet18-state-dict": (_resnet18_state_dict, "the weights do not fit CLIP: missing keys"),
    "resnet18-torchscript": (_resnet18_torchscript, "not a CLIP in OpenAI's layout"),
    "hostile-pickle": (_hostile_pickle, "Unsupported global"),
    "folder": (_folder, "a folder, not a CLIP checkpoint file"),
    "missing": (_missing, "no such CLIP checkpoint file"),
}


@pytest.mark.parametrize("kind", NOT_CLIP)
def test_a_file_that_is_no_clip_checkpoint_is_a_clear_error(kind, source, tiny, tmp_path):
    path = tmp_path / "clip.pt"
    write, reason = NOT_CLIP[kind]
    write(path, source)
    with pytest.raises(InputError) as error:
        OpenClipEncoder(tiny, str(path), seed=0)
    message = str(error.value)
    print(message)
    assert message.startswith(f"{path}: ") and reason in message
    if kind not in ("missing",):
        assert "expected a CLIP checkpoint" in message  # what was expected
    assert "what to do: " in message
    assert not (tmp_path / "marker").exists()  # the payload never ran
    # the check before any work (the stage's missing_inputs) says the same of a bad path
    if kind in ("folder", "missing"):
        with pytest.raises(InputError, match=reason):
            clip_features.require_weights(tiny, str(path))
