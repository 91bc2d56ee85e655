"""Thin command line: parses arguments, calls the stages, prints summaries.

Each stage package provides ``<stage>/cli.py`` with ``register(subparsers)``; a
subcommand's handler returns the exit status (0 ok, 1 some inputs failed). A command
that writes into a run folder names it (:func:`explainlab.cli_common.writes_into`) and
runs holding that folder's lock. Exit statuses: 0 ok; 1 some inputs failed, or a fault
of the file system (the finished items are kept); 2 an error in what was asked (bad
input, config or parameters; missing files; the run folder busy); 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM): the finished items are kept and a rerun resumes.
Tracebacks only with ``--debug`` or ``EXPLAINLAB_DEBUG=1``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import traceback
from collections.abc import Sequence

from explainlab import __version__, faults
from explainlab.cli_common import package_commands
from explainlab.errors import ExplainlabError

# Subcommand modules, in the order of the data flow (then those packages add).
COMMAND_MODULES: tuple[str, ...] = (
    "explainlab.assets_cli",
    "explainlab.methods_cli",
    "explainlab.explain_cli",
    "explainlab.cam.cli",
    "explainlab.lime.cli",
    "explainlab.dissect.cli",
    "explainlab.compare.cli",
    "explainlab.evaluation.cli",
    "explainlab.run_cli",
    "explainlab.view.cli",
)

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="explainlab",
        description="Explain what vision classifiers do, and check the explanations against each other.",
    )
    parser.add_argument("--version", action="version", version=f"explainlab {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an error (also {faults.DEBUG_ENV}=1)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (*COMMAND_MODULES, *package_commands()):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = faults.debug_wanted(args.debug)
    _forget_earlier_commands()
    try:
        with faults.interrupts_raised(), _folder_lock(args):
            status = int(args.handler(args) or 0)
    except BaseException as exc:
        with faults.signals_ignored():
            status = _report(exc, args.command, debug)
    if argv is None:  # this process is the command: it is done, only the interpreter's exit
        faults.ignore_interrupts()  # is left, which a late Ctrl-C must not turn into a crash
        if status in (faults.EXIT_INTERRUPTED, faults.EXIT_TERMINATED):
            faults.exit_now(status)
    return status


def _report(exc: BaseException, command: str, debug: bool) -> int:
    """One message for what stopped the command, and its exit status."""
    if isinstance(exc, SystemExit | GeneratorExit):
        raise exc
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, ExplainlabError):
        text, status = f"error: {exc}", EXIT_ERROR
    elif isinstance(exc, OSError):
        text, status = f"error: {faults.os_error_message(exc)}", faults.EXIT_FAULT
    elif isinstance(exc, KeyboardInterrupt):
        text, status = faults.interrupted_message(exc)
        print(file=sys.stderr)
    else:
        kept = "".join(f"\n  {line}" for line in faults.kept_lines())
        text = (
            f"internal error (a bug, not your input): {type(exc).__name__}: {exc}{kept}\n"
            f"  what to do: rerun with --debug (or {faults.DEBUG_ENV}=1) to see the traceback, "
            "and report it"
        )
        status = faults.EXIT_FAULT
    print(f"explainlab {command}: {text}", file=sys.stderr)
    return status


def _folder_lock(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The lock of the run folder the command writes into (none for commands that only read)."""
    folder_of = getattr(args, "run_folder", None)
    folder = folder_of(args) if folder_of is not None else None
    if folder is None:
        return contextlib.nullcontext()
    from explainlab.runlock import hold_run_folder

    return hold_run_folder(folder)


def _forget_earlier_commands() -> None:
    """A second main() in one process (tests, notebooks) reports only its own stages."""
    runfolder = sys.modules.get("explainlab.runfolder")
    if runfolder is not None:
        runfolder.forget_unfinished()


if __name__ == "__main__":
    raise SystemExit(main())
