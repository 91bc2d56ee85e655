"""The bottom of the configuration stays light, and the command line answers --help
without loading torch or any stage's libraries (each check in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from explainlab.cli import build_parser

STAGE_LIBRARIES = (
    "matplotlib",
    "pandas",
    "pytorch_grad_cam",
    "lime",
    "sklearn",
    "skimage",
    "reportlab",
)
HEAVY = ("torch", "torchvision", "timm", "open_clip", "numpy", "ray", *STAGE_LIBRARIES)


def _loaded_after(code: str) -> list[str]:
    """The top-level packages of ``HEAVY`` loaded after running ``code`` in a new Python."""
    probe = (
        "import sys, json\n"
        f"{code}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_reading_a_config_loads_no_stage_library():
    loaded = _loaded_after("import explainlab.config\nexplainlab.config.load_config('offline')")
    assert not set(loaded) & set(STAGE_LIBRARIES), loaded
    assert "torch" not in loaded


def _commands() -> list[list[str]]:
    """Every command and subcommand of the command line, as argv prefixes."""
    found = [[]]
    parser = build_parser()

    def walk(p, prefix):
        for action in p._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    found.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(parser, [])
    return found


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a) or "explainlab")
def test_help_loads_neither_torch_nor_a_stage_library(argv):
    code = (
        "from explainlab.cli import main\n"
        "try:\n"
        f"    main({[*argv, '--help']!r})\n"
        "except SystemExit:\n"
        "    pass"
    )
    assert _loaded_after(code) == []
