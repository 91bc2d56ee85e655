"""The README's "Use from Python" section runs as written, in a folder that holds nothing
(offline: the offline model, the images of ``xl.sample_images`` from the mirror, and a
CLIP stand-in in OpenAI's file format for the dissection)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from explainlab import assets
from helpers import install_clip_stand_in

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end > 0 else None]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_the_section_has_code():
    assert len(python_blocks("Use from Python")) >= 4


def test_use_from_python_runs_as_written(tmp_path, monkeypatch, mirror):
    install_clip_stand_in(tmp_path / "clip", monkeypatch)
    monkeypatch.setenv("EXPLAINLAB_MIRROR", f"{tmp_path / 'clip'}:{mirror}")
    monkeypatch.setattr(assets, "_mirror_index", assets._mirror_index.__wrapped__)
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {}
    try:
        for number, block in enumerate(python_blocks("Use from Python"), 1):
            try:
                exec(compile(block, f"README block {number}", "exec"), namespace)
            except Exception as exc:  # name the block that failed
                pytest.fail(f"README block {number} failed: {type(exc).__name__}: {exc}")
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "out" / "goldfish_cams" / "panel.png").is_file()
    assert (tmp_path / "out" / "goldfish_lime" / "mask.npy").is_file()
    units = namespace["units"].labels
    assert set(units["layer"]) == {"layer3", "layer4"} and len(units) == 256 + 512


def test_the_methods_table_is_the_registry():
    """The README lists every registered method as `explainlab methods --markdown` does."""
    from explainlab.methods.listing import markdown

    assert markdown() in README.read_text(encoding="utf-8")
