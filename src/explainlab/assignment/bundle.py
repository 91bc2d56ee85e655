"""The submission bundle ``TML25_A4_<team>.zip``: README, reports, code, configs, the
parameter pickle and its JSON twin, descriptions.csv files and analysis tables — and
none of the large artifacts (weights, caches, activations, maps, probe images). With the
viewer (``with_view``), the run's ``view/`` folder too: its images are small thumbnails."""

from __future__ import annotations

import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from explainlab import runfolder
from explainlab.errors import InputError
from explainlab.stages import stage_dir

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # explainlab/ (this is explainlab/assignment/)
CODE_SUFFIXES = {".py", ".toml", ".md", ".cfg", ".txt", ".js", ".css", ".html"}
CODE_NAMES = {"Makefile", "run"}
# From a run folder, by stage (None: the run folder itself): what a reader of the
# submission needs, never large arrays.
RESULT_FILES: tuple[tuple[str | None, str], ...] = (
    ("report", "*.pdf"),
    ("report", "tables/*/*"),  # the numbers each report derived, beside its text
    (None, "manifest.json"),
    (None, "predictions.csv"),
    ("cam", "predictions.csv"),
    ("cam", "timings.csv"),
    ("lime", "params.pkl"),
    ("lime", "params.json"),
    ("lime", "timings.csv"),
    ("lime", "explanations.csv"),
    ("scoreboard", "*.csv"),
    ("tune", "summary.csv"),
    ("tune", "pareto.csv"),
    ("tune", "params.json"),
    ("dissect", "*/descriptions.csv"),
    ("dissect", "*/top_concepts.csv"),
    ("dissect", "*/args.json"),
    ("dissect", "analysis/*.csv"),
    ("dissect", "analysis/summary.md"),
    ("dissect", "analysis/findings.json"),
    ("compare", "*.csv"),
    ("compare", "summary.json"),
    ("compare", "summary.txt"),
)
MAX_BUNDLE_BYTES = 15_000_000  # what a submission zip may weigh to be shared
EXCLUDED_SUFFIXES = {".npy", ".npz", ".pt", ".pth", ".tar", ".zip", ".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class BundleResult:
    path: Path
    entries: list[tuple[str, int]]  # (name in the zip, bytes)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def oversized(self) -> bool:
        return self.size > MAX_BUNDLE_BYTES


def bundle_name(team: str | int) -> str:
    return f"TML25_A4_{team}.zip"


def project_root() -> Path | None:
    """The checkout explainlab runs from (an editable install), or None (a wheel)."""
    root = PACKAGE_DIR.parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "src").is_dir() else None


def _code_files(root: Path) -> list[Path]:
    """Tracked files when ``root`` is a git checkout, else source files under src/ tests/."""
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
            for folder in ("src", "tests", "benchmarks", ".ci")
            for p in (root / folder).rglob("*")
        ]
        files += [root / n for n in ("README.md", "pyproject.toml", "Makefile")]
    return sorted(
        p for p in files if p.is_file() and (p.suffix in CODE_SUFFIXES or p.name in CODE_NAMES)
    )


def _result_files(run_dir: Path) -> list[Path]:
    found: set[Path] = set()
    for stage, pattern in RESULT_FILES:
        folder = run_dir if stage is None else stage_dir(run_dir, stage)
        found.update(
            p for p in folder.glob(pattern) if p.is_file() and p.suffix not in EXCLUDED_SUFFIXES
        )
    return sorted(found)


def _view_files(run_dir: Path) -> list[Path]:
    """The run's viewer (``explainlab view``), without its stage record."""
    folder = stage_dir(run_dir, "view")
    if not (folder / "index.html").is_file():
        raise InputError(
            f"{run_dir}: the run has no viewer ({folder / 'index.html'})",
            hint=f"write it with 'explainlab view --run {run_dir}' (the run's view stage)",
        )
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name != runfolder.FINGERPRINT_FILE
    )


def _installed_files() -> list[tuple[Path, str]]:
    """explainlab's own source files, from an installed package (no checkout at hand)."""
    return [
        (p, f"code/explainlab/{p.relative_to(PACKAGE_DIR).as_posix()}")
        for p in sorted(PACKAGE_DIR.rglob("*"))
        if p.is_file() and p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts
    ]


def make_bundle(
    team: str | int,
    run_dir: Path,
    out_dir: Path = Path("."),
    *,
    force: bool = False,
    root: Path | None = None,
    with_view: bool = False,
) -> BundleResult:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(
            f"{run_dir}: no such run folder", hint="run 'make run' (or explainlab run) first"
        )
    if not list(stage_dir(run_dir, "report").glob("*.pdf")):
        raise InputError(
            f"{run_dir}: the run has no reports yet", hint="finish the run (its report stage) first"
        )
    results = _result_files(run_dir) + (_view_files(run_dir) if with_view else [])
    target = Path(out_dir) / bundle_name(team)
    if target.exists() and not force:
        raise InputError(f"{target} exists already", hint="pass --force to overwrite it")
    entries: list[tuple[str, int]] = []
    with (
        runfolder.atomic_path(target) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        root = root or project_root()
        code = (
            [(p, f"code/{p.relative_to(root).as_posix()}") for p in _code_files(root)]
            if root is not None
            else _installed_files()
        )
        for path, name in code:
            zf.write(path, name)
            entries.append((name, path.stat().st_size))
        readme = root / "README.md" if root is not None else None
        if readme is not None and readme.is_file():
            zf.write(readme, "README.md")
            entries.append(("README.md", readme.stat().st_size))
        for path in results:
            name = f"results/{path.relative_to(run_dir).as_posix()}"
            zf.write(path, name)
            entries.append((name, path.stat().st_size))
    return BundleResult(target, entries)
