"""Everything a run lacks is named up front, in one message: every stage's weights, the
Places365 checkpoint and its class names, CLIP, Broden, the concept set, the images."""

from __future__ import annotations

from pathlib import Path

import pytest

from explainlab import fallback
from explainlab.config import load_config
from explainlab.errors import MissingAssetsError
from explainlab.images import MISSION_IMAGES
from explainlab.pipeline import run_pipeline

MODEL_FILES = [
    "resnet50-11ad3fa6.pth",
    "resnet18-f37072fd.pth",
    "resnet18_places365.pth.tar",
    "ViT-B-16.pt",
    "broden1_224.zip",
]


@pytest.fixture
def assignment(tmp_path):
    """The assignment's config, writing under tmp_path."""
    shipped = Path(load_config("assignment").source).read_text(encoding="utf-8")
    config = tmp_path / "assignment.toml"
    root = f'name = "assignment"\noutput_root = "{tmp_path / "results"}"'
    config.write_text(shipped.replace('name = "assignment"', root))
    return load_config(config)


def test_a_bare_machine_learns_every_missing_file_at_once(
    assignment, tmp_path, torch_home, monkeypatch
):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(empty))
    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path / "cache"))
    for strict in (True, False):  # the images have no stand-in: an error either way
        with pytest.raises(MissingAssetsError) as info:
            run_pipeline(assignment, strict=strict)
        names = info.value.names
        expected = [m.filename for m in MISSION_IMAGES] + MODEL_FILES
        expected += ["categories_places365.txt", "20k.txt"]
        assert sorted(names) == sorted(expected)
        text = str(info.value)
        for name in expected:  # each with its URL and where to put it
            at = text.index(f"- {name}")
            assert "from: http" in text[at:].splitlines()[1], name
            assert "put it in:" in text[at:].splitlines()[2], name
    assert not (tmp_path / "results" / "assignment" / "cam").exists()  # before any work


def test_the_offline_fallback_paragraph_names_them_all(assignment, torch_home):
    found = fallback.preflight(assignment)
    assert found.images is None
    assert sorted(found.missing.names) == sorted(MODEL_FILES)
    text, stand_in = fallback.message(assignment, assignment, found, "offline")
    for name in MODEL_FILES:
        assert name in text
    assert "resnet50-11ad3fa6.pth" in stand_in
