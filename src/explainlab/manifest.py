"""``manifest.json``: what a run used and did — config, versions, seeds, checksums, timings."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from explainlab import __version__, runfolder

PACKAGES = (
    "torch",
    "torchvision",
    "grad-cam",
    "lime",
    "open-clip-torch",
    "timm",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "pandas",
    "matplotlib",
    "pillow",
    "reportlab",
    "pypdf",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "explainlab": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_manifest(run_dir: Path, content: dict[str, Any]) -> Path:
    full = {"explainlab": __version__, "written": now(), "packages": package_versions(), **content}
    return runfolder.write_json(Path(run_dir) / "manifest.json", full)
