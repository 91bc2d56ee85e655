"""The command line: --help everywhere, exit status and error naming for bad inputs."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from explainlab.cli import build_parser, main


def _subcommands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommands(sub, (*prefix, name))


def test_every_subcommand_has_help(capsys):
    commands = list(_subcommands(build_parser()))
    assert ("cam",) in commands and ("run",) in commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "usage: explainlab" in out and len(out) > 100, command


def test_console_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "explainlab", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "cam" in result.stdout


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    assert main(["cam", "--model", "nope", "--images", "goldfish", "--out", str(tmp_path)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_cam_batch_with_bad_inputs_processes_the_good_ones(tmp_path, capsys, mirror):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.png"
    Image.fromarray(rng.integers(0, 255, (240, 300, 3), dtype=np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    out = tmp_path / "run"
    status = main(
        [
            "cam",
            "--model",
            "efficientnet_lite0",
            "--methods",
            "gradcam",
            "--device",
            "cpu",
            "--images",
            "goldfish",
            str(bad),
            str(good),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "bad.jpg" in captured.err and "not an image" in captured.err
    assert (out / "cam" / "goldfish" / "gradcam.npy").is_file()
    assert (out / "cam" / "good" / "gradcam.npy").is_file()
    assert not (out / "cam" / "bad").exists()
    assert (out / "predictions.csv").is_file()


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_every_cli_default_is_its_settings_default():
    """A command given no options builds exactly the settings dataclass's defaults: the
    command line never retypes a default by hand."""
    from explainlab.cam import cli as cam_cli
    from explainlab.cam.settings import CamSettings
    from explainlab.compare import cli as compare_cli
    from explainlab.compare.settings import CompareSettings
    from explainlab.dissect import cli as dissect_cli
    from explainlab.dissect.settings import DissectSettings
    from explainlab.lime import cli as lime_cli
    from explainlab.lime.settings import LimeSettings, ReferenceSettings, TuneSettings

    assert cam_cli.settings_from_args(_parse("cam")) == CamSettings()
    assert compare_cli.settings_from_args(_parse("compare")) == CompareSettings()
    assert lime_cli.lime_settings(_parse("lime")) == LimeSettings()
    assert lime_cli.lime_settings(_parse("lime", "run")) == LimeSettings()
    assert lime_cli.tune_settings(_parse("lime", "tune")) == TuneSettings()
    assert lime_cli.reference_settings(_parse("lime", "score", "defaults")) == ReferenceSettings()
    assert dissect_cli.settings_from_args(_parse("dissect", "run")) == DissectSettings()
