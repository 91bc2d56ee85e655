"""The submission zip: what goes in, what stays out, no silent overwrite."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from explainlab.assignment.bundle import bundle_name, make_bundle
from explainlab.errors import InputError


def _run_folder(root):
    run = root / "results" / "assignment"
    for rel, data in {
        "reports/cam.pdf": b"%PDF-1.4 cam",
        "reports/all.pdf": b"%PDF-1.4 all",
        "reports/tables/2_cam/summary.json": b"{}",
        "lime/params.pkl": b"\x80\x04pickle",
        "lime/params.json": b"{}",
        "dissect/resnet18/descriptions.csv": b"layer,unit,description,similarity\n",
        "dissect/analysis/top_concepts_per_model.csv": b"a\n",
        "dissect/cache/activations.pt": b"big",
        "lime_score/scoreboard_run.csv": b"key,iou\n",
        "lime_tune/params.json": b"{}",
        "compare/summary.json": b"{}",
        "predictions.csv": b"key\n",
        "manifest.json": b"{}",
        "cam/goldfish/gradcam.png": b"png",
    }.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(data)
    np.save(run / "cam" / "goldfish" / "gradcam.npy", np.zeros((224, 224), np.float32))
    return run


def test_bundle_contents_and_overwrite(tmp_path):
    run = _run_folder(tmp_path)
    result = make_bundle(7, run, tmp_path)
    assert result.path.name == bundle_name(7) == "TML25_A4_7.zip"
    names = zipfile.ZipFile(result.path).namelist()
    for expected in (
        "README.md",
        "results/reports/cam.pdf",
        "results/reports/tables/2_cam/summary.json",
        "results/lime/params.pkl",
        "results/lime/params.json",
        "results/dissect/resnet18/descriptions.csv",
        "results/dissect/analysis/top_concepts_per_model.csv",
        "results/predictions.csv",
        "results/lime_score/scoreboard_run.csv",
        "results/lime_tune/params.json",
        "results/compare/summary.json",
        "code/src/explainlab/cli.py",
        "code/pyproject.toml",
        "code/Makefile",
    ):
        assert expected in names, expected
    assert not [n for n in names if n.endswith((".npy", ".pt", ".png"))]
    assert not result.oversized
    with pytest.raises(InputError, match="--force"):
        make_bundle(7, run, tmp_path)
    assert make_bundle(7, run, tmp_path, force=True).path == result.path


def test_bundle_needs_a_finished_run(tmp_path):
    with pytest.raises(InputError, match="no such run folder"):
        make_bundle(1, tmp_path / "nope", tmp_path)
    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match="no reports"):
        make_bundle(1, tmp_path / "run", tmp_path)


def test_bundle_with_the_viewer(tmp_path):
    run = _run_folder(tmp_path)
    with pytest.raises(InputError, match="explainlab view --run"):
        make_bundle(7, run, tmp_path, with_view=True)
    view = run / "view"
    for rel in ("index.html", "data.js", "img/goldfish/crop.webp", "fingerprint.json"):
        (view / rel).parent.mkdir(parents=True, exist_ok=True)
        (view / rel).write_bytes(b"x")
    names = zipfile.ZipFile(make_bundle(7, run, tmp_path, with_view=True).path).namelist()
    assert {"results/view/index.html", "results/view/data.js"} <= set(names)
    assert "results/view/img/goldfish/crop.webp" in names
    assert "results/view/fingerprint.json" not in names
    plain = zipfile.ZipFile(make_bundle(7, run, tmp_path, force=True).path).namelist()
    assert not [n for n in plain if n.startswith("results/view/")]


def test_bundle_command_writes_the_viewer_it_includes(tmp_path, capsys):
    from explainlab.cli import main

    run = _run_folder(tmp_path)
    status = main(["bundle", "--team", "3", "--run", str(run), "--out-dir", str(tmp_path),
                   "--with-view"])  # fmt: skip
    assert status == 0 and (run / "view" / "index.html").is_file()
    names = zipfile.ZipFile(tmp_path / bundle_name(3)).namelist()
    assert "results/view/index.html" in names and "results/view/viewer.js" in names
    assert "code/src/explainlab/view/static/viewer.js" in names
