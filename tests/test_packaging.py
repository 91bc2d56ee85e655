"""A wheel built from the repository, installed (not editable) into a fresh virtual
environment that reuses this one's libraries (nothing is downloaded), works on its own:
--help, the model list, and a run of the shipped offline config found by name (its
viewer written from the wheel's static files)."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs
    )
    assert result.returncode == 0, f"{args[:3]}: {result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv's bin folder, with explainlab installed from its wheel."""
    root = tmp_path_factory.mktemp("packaging")
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "-w", dist, REPO])  # fmt: skip
    wheel = next(dist.glob("explainlab-*.whl"))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv])
    # this environment's libraries (torch ...) without its editable explainlab: a plain
    # path entry, whose .pth files (the editable install's) are not processed
    ours = next(p for p in site.getsitepackages() if p.endswith("site-packages"))
    target = next((venv / "lib").glob("python3*/site-packages"))
    (target / "reuse_libraries.pth").write_text(ours + "\n")
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          wheel])  # fmt: skip
    return venv / "bin"


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    out = _run([installed / "python", "-c", "import explainlab; print(explainlab.__file__)"])
    assert str(REPO) not in out.stdout and "site-packages" in out.stdout


def test_help_and_models(installed):
    assert "Explain what vision classifiers do" in _run([installed / "explainlab", "--help"]).stdout
    models = _run([installed / "explainlab", "models"]).stdout
    assert "efficientnet_lite0" in models and "torchvision:NAME" in models


def test_run_the_shipped_offline_config_by_name(installed, tmp_path, mirror):
    env = {**os.environ, "EXPLAINLAB_MIRROR": str(mirror), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    _run(
        [installed / "explainlab", "run", "--config", "offline", "--stages", "cam", "view",
         "--images", "goldfish", "--output-root", tmp_path / "results"],
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    run_dir = tmp_path / "results" / "offline"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["run"]["stages"] == ["cam", "view"]
    assert manifest["config_file"].endswith("explainlab/assignment/configs/offline.toml")
    assert (run_dir / "cam" / "goldfish" / "gradcam.npy").is_file()
    assert "viewer.js" in (run_dir / "view" / "index.html").read_text()
    assert (run_dir / "view" / "viewer.js").stat().st_size > 1000
