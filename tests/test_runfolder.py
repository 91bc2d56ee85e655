"""Atomic writes and resumable stages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explainlab import runfolder


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), runfolder.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_writers(tmp_path):
    runfolder.save_npy(tmp_path / "a.npy", np.arange(3))
    runfolder.write_json(tmp_path / "b.json", {"x": np.float32(1.5), "p": tmp_path})
    assert np.load(tmp_path / "a.npy").tolist() == [0, 1, 2]
    assert json.loads((tmp_path / "b.json").read_text())["x"] == 1.5


def test_stage_resumes_finished_items_and_commits(tmp_path):
    stage = runfolder.Stage(tmp_path, "cam", {"model": "m", "n": 1})
    with stage.item("a") as folder:
        (folder / "x.txt").write_text("a")
    with pytest.raises(KeyboardInterrupt), stage.item("b") as folder:
        (folder / "x.txt").write_text("half")
        raise KeyboardInterrupt
    # what SIGKILL leaves: a temporary item folder that no finally block removed
    (tmp_path / ".cam.partial" / ".c.killed").mkdir()
    (tmp_path / ".cam.partial" / ".c.killed" / "x.txt").write_text("half")
    # a rerun with the same settings sees 'a' finished and 'b' not
    again = runfolder.Stage(tmp_path, "cam", {"model": "m", "n": 1})
    assert again.has_item("a") and not again.has_item("b")
    assert not (tmp_path / "cam").exists() and not again.complete
    with again.item("b") as folder:
        (folder / "x.txt").write_text("b")
    with again.finishing() as folder:
        (folder / "table.csv").write_text("k\n")
    assert again.complete
    assert (tmp_path / "cam" / "a" / "x.txt").read_text() == "a"
    assert (tmp_path / "cam" / "b" / "x.txt").read_text() == "b"
    assert not (tmp_path / ".cam.partial").exists()
    # a killed process's temporary folder never reaches the final stage folder
    assert [p.name for p in (tmp_path / "cam").iterdir() if p.name.startswith(".")] == []


def test_changed_settings_start_over_and_replace_old_results(tmp_path):
    first = runfolder.Stage(tmp_path, "lime", {"samples": 100})
    with first.item("a") as folder:
        (folder / "x.txt").write_text("100")
    first.commit()
    second = runfolder.Stage(tmp_path, "lime", {"samples": 200})
    assert not second.complete and not second.has_item("a")
    with second.item("a") as folder:
        (folder / "x.txt").write_text("200")
    # until committed, the old complete result stays in place
    assert (tmp_path / "lime" / "a" / "x.txt").read_text() == "100"
    second.commit()
    assert (tmp_path / "lime" / "a" / "x.txt").read_text() == "200"
    assert runfolder.Stage(tmp_path, "lime", {"samples": 200}).complete


def test_fingerprint_is_order_independent_for_dicts():
    assert runfolder.fingerprint({"a": 1, "b": [1, 2]}) == runfolder.fingerprint(
        {"b": [1, 2], "a": 1}
    )
    assert runfolder.fingerprint({"a": 1}) != runfolder.fingerprint({"a": 2})


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_written_files_and_item_folders_get_the_users_umask(tmp_path, umask):
    """As any program's files: 0o666 (folders 0o777) less the umask, not mkstemp's 0600."""
    import os

    old = os.umask(umask)
    try:
        path = runfolder.write_text(tmp_path / "report.txt", "x")
        stage = runfolder.Stage(tmp_path, "cam", {"n": 1})
        with stage.item("a") as folder:
            (folder / "x.txt").write_text("a")
        with stage.finishing():
            pass
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "cam" / "a").stat().st_mode & 0o777 == 0o777 & ~umask
