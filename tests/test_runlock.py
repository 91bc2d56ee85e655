"""One writer per run folder: the lock, its holder's record, a stale lock taken over, and
every command that writes declaring the folder it locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from explainlab.cli import main
from explainlab.runlock import LOCK_FILE, RunFolderBusy, hold_run_folder, holder_of

HOLDER = textwrap.dedent(
    """
    import sys, time
    from explainlab.runlock import hold_run_folder
    with hold_run_folder(sys.argv[1], command="explainlab cam --out held"):
        print("held", flush=True)
        time.sleep(120)
    """
)


def _hold_elsewhere(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder`` (it says so once it has the lock)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path):
    folder = tmp_path / "run"
    other = _hold_elsewhere(folder)
    try:
        start = time.monotonic()
        with pytest.raises(RunFolderBusy) as info, hold_run_folder(folder):
            pass
        assert time.monotonic() - start < 5  # at once, not after a wait
        text = str(info.value)
        assert str(folder) in text and f"pid {other.pid}" in text
        assert "`explainlab cam --out held`" in text and "started 20" in text
        assert "wait for it to finish" in text and "--out" in text
        assert holder_of(folder).pid == other.pid
    finally:
        other.kill()
        other.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over_with_a_note(tmp_path):
    folder = tmp_path / "run"
    other = _hold_elsewhere(folder)
    os.killpg(other.pid, signal.SIGKILL)  # no finally block runs: its record stays
    other.wait()
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == other.pid
    assert holder_of(folder) is None  # the kernel released the lock with the process
    notes: list[str] = []
    with hold_run_folder(folder, notify=notes.append):
        assert holder_of(folder).pid == os.getpid()
    assert len(notes) == 1 and f"pid {other.pid}" in notes[0] and "taking over" in notes[0]
    # a clean release leaves the file (never deleted) empty: the next holder has no note
    assert (folder / LOCK_FILE).read_text() == ""
    with hold_run_folder(folder, notify=notes.append):
        pass
    assert len(notes) == 1


def test_holding_is_reentrant_within_a_process(tmp_path):
    with hold_run_folder(tmp_path / "run"), hold_run_folder(tmp_path / "run" / "." / ""):
        assert holder_of(tmp_path / "run").pid == os.getpid()
    assert holder_of(tmp_path / "run") is None


def test_a_busy_folder_is_exit_status_2_with_one_message(tmp_path, capsys):
    folder = tmp_path / "run"
    other = _hold_elsewhere(folder)
    try:
        status = main(["cam", "--model", "efficientnet_lite0", "--images", "goldfish",
                       "--out", str(folder)])  # fmt: skip
    finally:
        other.kill()
        other.wait()
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"explainlab cam: error: {folder} is being written by another")
    assert "Traceback" not in err and not (folder / "cam").exists()


def test_the_pipeline_holds_its_run_folder(tmp_path):
    from explainlab.config import load_config
    from explainlab.pipeline import run_pipeline

    config = tmp_path / "c.toml"
    config.write_text(
        f'[run]\nname = "r"\noutput_root = "{tmp_path}"\nstages = ["cam"]\n'
        '[images]\nsources = ["goldfish"]\n[cam]\nmodel = "efficientnet_lite0"\n'
    )
    other = _hold_elsewhere(tmp_path / "r")
    try:
        with pytest.raises(RunFolderBusy, match=f"pid {other.pid}"):
            run_pipeline(load_config(config))
    finally:
        other.kill()
        other.wait()


def _commands(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                has_children = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if not has_children or sub.get_default("handler") is not None:
                    yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


# what each command locks with its defaults: the run folder it writes into, or nothing
LOCKS = {
    ("assets",): None,
    ("models",): None,
    ("cam",): "results/default",
    ("lime",): "results/default",
    ("lime", "run"): "results/default",
    ("lime", "export"): "results/default",
    ("lime", "validate"): None,
    ("lime", "submit"): None,
    ("lime", "score"): "results/default",
    ("lime", "tune"): "results/default",
    ("lime", "calibrate"): "results/default",
    ("dissect", "run"): "results/default",
    ("dissect", "analyze"): "results/default",
    ("compare",): "results/default",
    ("explain",): "results/explain",
    ("evaluate",): "results/evaluate",
    ("methods",): None,  # reads the registry only
    ("report",): "results/assignment",
    ("run",): None,  # the pipeline locks the config's run folder itself
    ("bundle",): None,
    ("view",): None,  # locks its run folder itself while it writes, not while it serves
}
REQUIRED = {("assets",): ["list"], ("lime", "validate"): ["f"], ("lime", "submit"): ["f"],
            ("lime", "score"): ["f"], ("bundle",): ["--team", "1"]}  # fmt: skip


def test_every_command_declares_the_folder_it_writes():
    from explainlab.cli import build_parser

    parser = build_parser()
    commands = dict(_commands(parser))
    assert set(commands) == set(LOCKS)  # a new command must say what it locks
    for command, expected in LOCKS.items():
        args = parser.parse_args([*command, *REQUIRED.get(command, [])])
        folder_of = args.run_folder
        folder = folder_of(args) if folder_of else None
        assert (str(folder) if folder else None) == expected, command
    # given elsewhere, the lock follows: the analysis folder's parent; no run folder at all
    args = parser.parse_args(["dissect", "analyze", "--out", "x/analysis"])
    assert args.run_folder(args) == Path("x")
    args = parser.parse_args(["lime", "export", "--output", "x/p.pkl"])
    assert args.run_folder(args) is None


def test_a_command_refused_before_any_work_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "new" / "run"
    assert main(["cam", "--model", "nope", "--images", "goldfish", "--out", str(out)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # the folders the lock made are gone again


def test_a_removed_lock_file_is_never_taken_for_the_folders_lock(tmp_path):
    """A newcomer that opened the lock file just before its last holder removed it must
    not believe it holds the folder (it retries on the folder's new file)."""
    import fcntl

    from explainlab.runlock import _same_file

    folder = tmp_path / "run"
    with hold_run_folder(folder):
        late = os.open(folder / LOCK_FILE, os.O_RDWR)  # opened while the holder holds it
    assert not folder.exists()  # the holder made it and left it unused: removed
    fcntl.flock(late, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock of a file nobody can find
    assert not _same_file(late, folder / LOCK_FILE)
    with hold_run_folder(folder):  # the folder's real lock is free
        assert holder_of(folder).pid == os.getpid()
    os.close(late)
