"""Probe sets (Broden extraction from a zip in its layout, folders, subsets), concept
sets, and the pooling of layer outputs."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from explainlab import assets
from explainlab.dissect import probes
from explainlab.dissect.activations import pool_output, recording
from explainlab.dissect.concepts import load_concepts
from explainlab.errors import InputError, UnknownNameError
from explainlab.models import weights_sha256


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, "JPEG")
    return buf.getvalue()


def _fake_broden(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("broden1_224/index.csv", "image,split\nade20k/a.jpg,train\n")
        z.writestr(
            "broden1_224/c_object.csv", "code,number,name,frequency,coverage\n1,5,dog,3,0.5\n"
        )
        z.writestr("broden1_224/images/ade20k/a.jpg", _jpeg("red"))
        z.writestr("broden1_224/images/ade20k/a_object.png", b"png mask")
        z.writestr("broden1_224/images/dtd/b.jpg", _jpeg("blue"))
        z.writestr("broden1_224/images/opensurfaces/c_color.png", b"png mask")
        z.writestr("broden1_224/images/../../evil.jpg", _jpeg("green"))
    return path


def test_broden_extraction_keeps_only_images(tmp_path):
    zip_path = _fake_broden(tmp_path / "broden1_224.zip")
    root = tmp_path / "out" / "broden1_224"
    images = probes.extract_broden_images(zip_path, root)
    found = sorted(p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file())
    assert found == ["ade20k/a.jpg", "dtd/b.jpg"]
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "out" / "evil.jpg").exists()
    assert not list(root.glob(".images.*"))  # no temporary folder left
    # a second call reuses the complete extraction
    (images / "dtd" / "b.jpg").write_bytes(b"changed")
    probes.extract_broden_images(zip_path, root)
    assert (images / "dtd" / "b.jpg").read_bytes() == b"changed"


def test_broden_not_a_zip(tmp_path):
    bad = tmp_path / "broden1_224.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable zip"):
        probes.extract_broden_images(bad, tmp_path / "out")


def test_broden_probe_through_the_asset_registry(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    zip_path = _fake_broden(mirror / "broden1_224.zip")
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    real = assets.ASSETS["broden1_224.zip"]
    fake = assets.Asset(
        filename=real.filename, url=real.url, checksum=f"sha256:{digest}", group=real.group
    )
    monkeypatch.setitem(assets.ASSETS, real.filename, fake)
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(mirror))
    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path / "cache"))
    probe = probes.resolve_probe(["broden"])
    assert [p.name for p in probe.paths] == ["a.jpg", "b.jpg"] and probe.name == "broden"
    assert probe.paths[0].is_relative_to(tmp_path / "cache")


def test_broden_missing_offline_names_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(tmp_path))
    with pytest.raises(assets.MissingAssetsError, match="netdissect.csail.mit.edu"):
        probes.resolve_probe(["broden"])


def test_folder_probe_subset_and_identity(tmp_path):
    folder = tmp_path / "val"
    for i in range(12):
        sub = folder / f"n{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i, 0, 0)).save(sub / f"img{i:02d}.JPEG")
    (folder / "notes.txt").write_text("not an image")
    whole = probes.resolve_probe([str(folder)])
    assert len(whole) == 12 and all(p.suffix == ".JPEG" for p in whole.paths)
    a = probes.resolve_probe([str(folder)], limit=5, seed=0)
    b = probes.resolve_probe([str(folder)], limit=5, seed=0)
    c = probes.resolve_probe([str(folder)], limit=5, seed=1)
    assert a.paths == b.paths and a.identity == b.identity and len(a) == 5
    assert a.paths != c.paths and a.identity != c.identity != whole.identity
    assert list(a.paths) == sorted(a.paths)  # the subset keeps the folder's order
    assert probes.subset_indices(10, 0, 0).tolist() == list(range(10))
    assert probes.subset_indices(10, 50, 0).tolist() == list(range(10))
    # a changed file changes the identity
    Image.new("RGB", (9, 9)).save(whole.paths[0])
    assert probes.resolve_probe([str(folder)]).identity != whole.identity
    both = probes.resolve_probe([str(folder), str(folder / "n0")])
    assert len(both) == 16 and both.name == "val+n0"
    # image files, alone or beside a folder, each one image of the set
    files = probes.resolve_probe([str(p) for p in whole.paths[:3]])
    assert files.paths == whole.paths[:3] and files.name == "files"
    mixed = probes.resolve_probe([str(folder / "n0"), str(whole.paths[0])])
    assert len(mixed) == 5 and mixed.name == "n0+files"
    assert files.identity != probes.resolve_probe([str(p) for p in whole.paths[:2]]).identity


def test_probe_errors(tmp_path):
    with pytest.raises(InputError, match="neither 'broden', a folder nor an image file"):
        probes.resolve_probe([str(tmp_path / "nowhere")])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="notes.txt' is not an image file"):
        probes.resolve_probe([str(tmp_path / "notes.txt")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no image files"):
        probes.resolve_probe([str(tmp_path / "empty")])
    with pytest.raises(InputError, match="no probe set"):
        probes.resolve_probe([])


def test_concept_sets_from_the_registry(mirror):
    broden = load_concepts("broden")
    assert len(broden) == 1197 and "wine cellar-bottle storage" in broden.words
    places = load_concepts("places365")
    assert len(places) == 365 and places.words[0] == "airfield"
    assert "bakery-shop" in places.words  # '/b/bakery/shop' in the CSAIL list
    imagenet = load_concepts("imagenet")
    assert len(imagenet) == 1000 and imagenet.words[1] == "goldfish, Carassius auratus"
    assert len(load_concepts("20k")) == 20000
    assert broden.digest == assets.file_digest(broden.path)


def test_concept_set_from_a_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("dog\n\n  cat \nsky\n\n")
    concepts = load_concepts(str(path))
    assert concepts.words == ("dog", "cat", "sky") and concepts.name == "mine"
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        load_concepts(str(tmp_path / "empty.txt"))
    with pytest.raises(UnknownNameError, match="neither a known name nor a file"):
        load_concepts("40k")


def test_pooling_of_layer_outputs():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    assert torch.equal(pool_output(x, "avg", "l"), x.mean(dim=(2, 3)))
    assert torch.equal(pool_output(x, "max", "l"), x[:, :, 1, 1])
    tokens = torch.randn(2, 5, 4)
    assert torch.equal(pool_output(tokens, "avg", "l"), tokens[:, 0])  # the class token
    flat = torch.randn(2, 7)
    assert torch.equal(pool_output(flat, "max", "fc"), flat)
    with pytest.raises(InputError, match="not a tensor"):
        pool_output((x, x), "avg", "pair")


def test_hooks_are_removed_even_on_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    with recording(model, ["0", "1"], "avg") as store:
        model(torch.randn(2, 3, 8, 8))
    assert [t.shape for t in store["0"]] == [(2, 4)]
    assert not model[0]._forward_hooks and not model[1]._forward_hooks
    with pytest.raises(RuntimeError), recording(model, ["0"], "avg"):
        model(torch.randn(2, 5, 8, 8))  # wrong channels
    assert not model[0]._forward_hooks
    with pytest.raises(UnknownNameError), recording(model, ["0", "7"], "avg"):
        pass
    assert not model[0]._forward_hooks


def test_weights_sha256_follows_the_weights():
    a = nn.Linear(3, 2)
    before = weights_sha256(a)
    assert weights_sha256(a) == before
    with torch.no_grad():
        a.weight[0, 0] += 1e-6
    assert weights_sha256(a) != before
    np.testing.assert_equal(len(before), 64)
