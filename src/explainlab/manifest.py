"""``manifest.json``: what a run used and did — config, versions, seeds, checksums, timings."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explainlab import __version__, assets, runfolder
from explainlab.models import weights_sha256
from explainlab.versions import package_versions

if TYPE_CHECKING:
    from explainlab.context import Context, StageResult

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout, in an editable install


def git_commit(folder: Path = PROJECT_ROOT) -> str | None:
    """The commit of the checkout explainlab runs from (None for an installed package)."""
    if not (folder / "pyproject.toml").is_file() or not (folder / "src" / "explainlab").is_dir():
        return None  # not our checkout: site-packages may sit inside someone else's repo
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


def run_identity(ctx: Context, started: str, device: str) -> dict[str, Any]:
    """What the manifest says of the run as a whole: computed once (the checksums read
    every image and every weight), while the stages' part is rewritten after each stage."""
    config = ctx.config
    return {
        "config_file": config.source,
        "config": config.to_dict(),
        "stand_in": ctx.stand_in or None,
        "dissect_fallback": (
            "reference CLIP-Dissect runs analysed; missing: " + ", ".join(ctx.dissect_missing.names)
            if ctx.dissect_missing
            else None
        ),
        "seeds": {"run": config.run.seed, **_table_seeds(config)},
        "device": device,
        "started": started,
        "code": git_commit(),
        "images": {
            s.key: {"path": str(s.path), "sha256": assets.file_digest(s.path)}
            for s in ctx.sources
            if s.path.is_file()
        },
        "models": {
            n: {
                "weights_sha256": weights_sha256(m.module),
                "source": m.spec.weights_source,
                "geometry": m.geometry.to_dict(),
                "geometry_source": m.spec.geometry_source,
            }
            for n, m in ctx.models.items()
        },
    }


def write_run_manifest(
    ctx: Context,
    identity: dict[str, Any],
    results: dict[str, StageResult],
    seconds: dict[str, float],
) -> Path:
    """Rewritten after every stage, so an interrupted run still records what it did."""
    from explainlab.stages import get_stage

    failures: dict[str, str] = {}
    for result in results.values():
        for failure in result.failures:
            failures.setdefault(failure.key, failure.error)
    return write_manifest(
        ctx.run_dir,
        {
            **identity,
            "finished": now(),
            "stages": {
                n: {
                    "folder": get_stage(n).folder,
                    "seconds": round(seconds[n], 2),
                    "skipped": r.skipped,
                    **r.facts,
                }
                for n, r in results.items()
            },
            "failures": failures,
        },
    )


def _table_seeds(config: Any) -> dict[str, int]:
    """The seed of each stage table that has one."""
    tables = config.to_dict()
    return {
        name: t["seed"]
        for name, t in tables.items()
        if name != "run" and isinstance(t, dict) and "seed" in t
    }
