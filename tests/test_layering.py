"""The core never depends on the assignment: importing it leaves explainlab.assignment
unloaded, and no core source file imports the assignment or speaks of the grader."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import explainlab

PACKAGE = Path(explainlab.__file__).parent
CORE_MODULES = (
    "explainlab.pipeline",
    "explainlab.context",
    "explainlab.stages",
    "explainlab.config",
    "explainlab.fallback",
    "explainlab.manifest",
    "explainlab.cli",
    "explainlab.cam.stage",
    "explainlab.lime.stage",
    "explainlab.lime.run",
    "explainlab.lime.cli",
    "explainlab.compare.stage",
    "explainlab.dissect.stage",
    "explainlab.models",
    "explainlab.images",
    "explainlab.report.pdf",
    "explainlab.report.findings",
)


def core_sources() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "assignment" not in p.relative_to(PACKAGE).parts]


def test_importing_the_core_leaves_the_assignment_unloaded():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('explainlab.assignment')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_no_core_source_imports_the_assignment():
    imports = re.compile(
        r"^\s*(from|import)\s+explainlab\.assignment\b|explainlab import assignment"
    )
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in core_sources()
        if any(imports.search(line) for line in p.read_text(encoding="utf-8").splitlines())
    ]
    assert offenders == []


def test_no_core_source_says_grader():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in core_sources()
        if "grader" in p.read_text(encoding="utf-8").lower()
    ]
    assert offenders == []


def test_the_assignment_registers_its_stages_tables_and_configs():
    from explainlab import configs
    from explainlab.config import load_config
    from explainlab.stages import STAGE_NAMES

    assert STAGE_NAMES == (
        "dissect",
        "cam",
        "tune",
        "lime",
        "scoreboard",
        "compare",
        "report",
        "view",
    )
    assert {"assignment", "offline"} <= set(configs.names())
    config = load_config("assignment")
    assert config.tune.budget_minutes > 0 and config.scoreboard.enabled
