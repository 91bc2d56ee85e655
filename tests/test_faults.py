"""Faults of the file system are one message and exit status 1, never a traceback (unless
--debug): what could not be written and why, how many items of which stage are kept, and
that a rerun resumes from them."""

from __future__ import annotations

import errno
import os
import re
import resource
import signal
import subprocess
import sys
import weakref

import numpy as np
import pytest

from explainlab import faults, runfolder
from explainlab.cli import main
from explainlab.errors import WriteError

CAM = ["cam", "--model", "efficientnet_lite0", "--methods", "gradcam", "--device", "cpu"]


def test_atomic_writes_name_the_file_they_could_not_write(tmp_path, monkeypatch):
    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runfolder.os, "replace", no_space)
    with pytest.raises(WriteError) as info:
        runfolder.write_text(tmp_path / "a" / "b.txt", "x")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "a" / "b.txt")
    assert list((tmp_path / "a").iterdir()) == []  # the temporary file went too


@pytest.mark.parametrize(
    ("number", "advice"),
    [
        (errno.ENOSPC, "free space on that disk"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permissions"),
        (errno.EIO, "I/O error"),
    ],
)
def test_each_fault_has_its_advice(tmp_path, number, advice):
    stage = runfolder.Stage(tmp_path, "cam", {"n": 1}, items=["a", "b", "c"])
    with stage.item("a") as folder:
        (folder / "x").write_text("a")
    error = WriteError(
        OSError(number, os.strerror(number)),
        tmp_path / ".cam.partial" / "b",
        "item 'b' of stage cam",
    )
    text = faults.os_error_message(error)
    lines = text.splitlines()
    assert lines[0] == (
        f"could not write {tmp_path}/.cam.partial/b (item 'b' of stage cam): "
        f"{os.strerror(number)} ({errno.errorcode[number]})"
    )
    assert f"kept: 1 of 3 items of stage cam (in {tmp_path}/.cam.partial)" in text
    assert "a rerun resumes from there" in text and advice in lines[-1]
    if number == errno.ENOSPC:
        assert re.search(r"\d+\.\d [MG]iB free of", lines[-1])  # the room left, measured
    runfolder.forget_unfinished()


def test_no_space_midway_keeps_the_finished_images_and_a_rerun_resumes(
    tmp_path, mirror, monkeypatch, capsys
):
    out = tmp_path / "run"
    real = runfolder.save_npy

    def full_disk(path, array):
        if "kite" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, array)

    monkeypatch.setattr(runfolder, "save_npy", full_disk)
    assert main([*CAM, "--images", "goldfish", "kite", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "explainlab cam: error: could not write" in err and "No space left on device" in err
    assert "item 'kite' of stage cam" in err
    assert f"kept: 1 of 2 items of stage cam (in {out}/.cam.partial)" in err
    kept = np.load(out / ".cam.partial" / "goldfish" / "gradcam.npy")
    monkeypatch.setattr(runfolder, "save_npy", real)  # space again
    assert main([*CAM, "--images", "goldfish", "kite", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "cam" / "goldfish" / "gradcam.npy"), kept)
    assert (out / "cam" / "kite" / "gradcam.npy").is_file()


def _limit_file_size():
    # A real fault from the kernel: files may not grow past 64 KiB (write() fails with
    # EFBIG instead of the process being killed by SIGXFSZ).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))


def test_a_real_write_fault_in_a_subprocess_is_one_message(tmp_path, mirror):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "explainlab", *CAM, "--images", "goldfish", "--out", str(out)]
    result = subprocess.run(
        command, capture_output=True, text=True, preexec_fn=_limit_file_size, check=False
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "could not write" in result.stderr and "File too large (EFBIG)" in result.stderr
    assert "ulimit -f" in result.stderr


def test_tracebacks_only_with_debug(tmp_path, capsys, monkeypatch):
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder")
    command = ["cam", "--images", "goldfish", "--out", str(occupied / "run")]
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"explainlab cam: error: could not write {occupied}/run/.explainlab.lock")
    assert "Not a directory (ENOTDIR)" in err
    for argv, env in ((["--debug", *command], None), (command, "1")):
        if env:
            monkeypatch.setenv("EXPLAINLAB_DEBUG", env)
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "could not write" in err


def test_an_interrupt_python_swallows_is_raised_again_at_the_next_item(tmp_path, capsys):
    """A signal whose exception lands in a weakref callback (or a finalizer) is swallowed
    by Python ("Exception ignored"): remembered, it stops the stage at its next item."""

    class Thing:
        pass

    def raise_inside(_ref):
        signal.raise_signal(signal.SIGTERM)
        sum(range(1000))  # the handler runs here, inside the callback

    stage = runfolder.Stage(tmp_path, "cam", {"n": 1}, items=["a", "b"])
    reached = False
    with pytest.raises(faults.Terminated), faults.interrupts_raised():
        thing = Thing()
        kept = weakref.ref(thing, raise_inside)
        del thing  # the callback runs: its Terminated is swallowed by Python
        reached = True
        with stage.item("a") as folder:
            (folder / "x").write_text("never")
    assert reached and kept() is None
    assert not stage.has_item("a")
    assert "Exception ignored" not in capsys.readouterr().err  # that report is muted
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
