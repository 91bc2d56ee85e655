"""Thin command line: parses arguments, calls the stages, prints summaries.

Each stage package provides ``<stage>/cli.py`` with ``register(subparsers)``; a
subcommand's handler returns the exit status (0 ok, 1 some inputs failed)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from explainlab import __version__
from explainlab.errors import ExplainlabError

# Subcommand modules, in the order of the data flow.
COMMAND_MODULES: tuple[str, ...] = (
    "explainlab.assets_cli",
    "explainlab.cam.cli",
    "explainlab.lime.cli",
    "explainlab.dissect.cli",
    "explainlab.compare.cli",
    "explainlab.report.cli",
    "explainlab.run_cli",
    "explainlab.bundle_cli",
)

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="explainlab",
        description="Explain what vision classifiers do, and check the explanations against each other.",
    )
    parser.add_argument("--version", action="version", version=f"explainlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ExplainlabError as exc:
        print(f"explainlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted; finished items are kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
