"""The submission bundle ``TML25_A4_<team>.zip``: README, reports, code, configs, the
parameter pickle and its JSON twin, descriptions.csv files and analysis tables — and
none of the large artifacts (weights, caches, activations, maps, probe images)."""

from __future__ import annotations

import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from explainlab import runfolder
from explainlab.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CODE_SUFFIXES = {".py", ".toml", ".md", ".cfg", ".txt"}
CODE_NAMES = {"Makefile", "run"}
# From a run folder: what a reader of the submission needs, never large arrays.
RESULT_PATTERNS = (
    "reports/*.pdf",
    "manifest.json",
    "predictions.csv",
    "cam/predictions.csv",
    "cam/timings.csv",
    "lime/params.pkl",
    "lime/params.json",
    "lime/timings.csv",
    "lime/explanations.csv",
    "lime_score/*.csv",
    "lime_tune/summary.csv",
    "lime_tune/pareto.csv",
    "lime_tune/params.json",
    "dissect/*/descriptions.csv",
    "dissect/*/top_concepts.csv",
    "dissect/*/args.json",
    "dissect/analysis/*.csv",
    "dissect/analysis/summary.md",
    "compare/*.csv",
    "compare/summary.json",
    "compare/summary.txt",
)
EXCLUDED_SUFFIXES = {".npy", ".npz", ".pt", ".pth", ".tar", ".zip", ".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class BundleResult:
    path: Path
    entries: list[tuple[str, int]]  # (name in the zip, bytes)

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def bundle_name(team: str | int) -> str:
    return f"TML25_A4_{team}.zip"


def _code_files(root: Path) -> list[Path]:
    """Tracked files when ``root`` is a git checkout, else source files under src/ configs/ tests/."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split()
        files = [root / name for name in listed]
    except (OSError, subprocess.SubprocessError):
        files = [
            p
            for folder in ("src", "configs", "tests", "benchmarks", ".ci")
            for p in (root / folder).rglob("*")
        ]
        files += [root / n for n in ("README.md", "pyproject.toml", "Makefile")]
    return sorted(
        p for p in files if p.is_file() and (p.suffix in CODE_SUFFIXES or p.name in CODE_NAMES)
    )


def _result_files(run_dir: Path) -> list[Path]:
    found: set[Path] = set()
    for pattern in RESULT_PATTERNS:
        found.update(
            p for p in run_dir.glob(pattern) if p.is_file() and p.suffix not in EXCLUDED_SUFFIXES
        )
    return sorted(found)


def make_bundle(
    team: str | int,
    run_dir: Path,
    out_dir: Path = Path("."),
    *,
    force: bool = False,
    root: Path = PROJECT_ROOT,
) -> BundleResult:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(
            f"{run_dir}: no such run folder", hint="run 'make run' (or explainlab run) first"
        )
    if not list(run_dir.glob("reports/*.pdf")):
        raise InputError(
            f"{run_dir}: the run has no reports yet", hint="finish the run (its report stage) first"
        )
    target = Path(out_dir) / bundle_name(team)
    if target.exists() and not force:
        raise InputError(f"{target} exists already", hint="pass --force to overwrite it")
    entries: list[tuple[str, int]] = []
    with (
        runfolder.atomic_path(target) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        for path in _code_files(root):
            name = f"code/{path.relative_to(root).as_posix()}"
            zf.write(path, name)
            entries.append((name, path.stat().st_size))
        readme = root / "README.md"
        if readme.is_file():
            zf.write(readme, "README.md")
            entries.append(("README.md", readme.stat().st_size))
        for path in _result_files(run_dir):
            name = f"results/{path.relative_to(run_dir).as_posix()}"
            zf.write(path, name)
            entries.append((name, path.stat().st_size))
    return BundleResult(target, entries)
