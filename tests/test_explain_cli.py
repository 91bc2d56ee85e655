"""``explainlab explain``: method names, kinds and 'all'; one folder per image; a bad
image reported while the others are explained."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explainlab.cli import main
from explainlab.errors import InputError
from explainlab.explain_cli import chosen_methods
from explainlab.methods import method_names


def test_methods_expand_kinds_and_all_without_repeats():
    assert chosen_methods(None) is None  # xl.explain's cheap defaults
    assert chosen_methods(["all"]) == list(method_names())
    cams = list(method_names("cam"))
    assert chosen_methods(["cam", "gradcam"]) == cams
    assert chosen_methods(["lime", "gradcam", "lime"]) == ["lime", "gradcam"]


def test_an_unknown_method_names_the_close_ones():
    with pytest.raises(InputError, match=r"did you mean gradcam\b"):
        chosen_methods(["gradcma"])


def test_explain_writes_a_folder_per_image_and_reports_the_bad_one(tmp_path, capsys, mirror):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    out = tmp_path / "explained"
    argv = ["explain", "--images", "goldfish", str(bad), "--methods", "gradcam", "--out", str(out)]
    status = main([*argv, "--device", "cpu"])
    captured = capsys.readouterr()
    assert status == 1 and "bad.jpg" in captured.err
    folder = out / "goldfish"
    saliency = np.load(folder / "gradcam.npy")
    assert saliency.shape == (224, 224) and saliency.min() >= 0.0
    assert saliency.max() == pytest.approx(1.0, abs=1e-6)
    record = json.loads((folder / "item.json").read_text())
    assert record["target_name"] == "goldfish" and record["model"] == "efficientnet_lite0"
    assert record["key"] == "goldfish"  # the mission key, not the file's stem
    assert (folder / "panel.png").is_file() and not (out / "bad").exists()
