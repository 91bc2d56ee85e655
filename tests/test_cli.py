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
        assert "(default )" not in out and "(default None)" not in out, command


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
    from explainlab.assignment import cli as assignment_cli
    from explainlab.assignment.settings import ReferenceSettings, TuneSettings
    from explainlab.cam import cli as cam_cli
    from explainlab.cam.settings import CamSettings
    from explainlab.compare import cli as compare_cli
    from explainlab.compare.settings import CompareSettings
    from explainlab.dissect import cli as dissect_cli
    from explainlab.dissect.settings import DissectSettings
    from explainlab.lime import cli as lime_cli
    from explainlab.lime.settings import LimeSettings

    assert cam_cli.settings_from_args(_parse("cam")) == CamSettings()
    assert compare_cli.settings_from_args(_parse("compare")) == CompareSettings()
    assert lime_cli.lime_settings(_parse("lime")) == LimeSettings()
    assert lime_cli.lime_settings(_parse("lime", "run")) == LimeSettings()
    assert assignment_cli.tune_settings(_parse("lime", "tune")) == TuneSettings()
    assert (
        assignment_cli.reference_settings(_parse("lime", "score", "defaults"))
        == ReferenceSettings()
    )
    assert dissect_cli.settings_from_args(_parse("dissect", "run")) == DissectSettings()


def test_options_are_generated_from_the_fields():
    """Name, type, default, help and choices come from the dataclass field; an option not
    given leaves the dataclass's default, and what is given is checked like a config."""
    from dataclasses import dataclass

    from explainlab.cli_common import add_settings, settings_from
    from explainlab.errors import ConfigError
    from explainlab.settings import setting

    @dataclass(frozen=True)
    class Toy:
        rate: float = setting(0.5, "a rate")
        count: int | None = setting(None, "a count (default: none)")
        sizes: tuple[int, ...] = setting((1, 2), "sizes", aliases=("size",))
        colour: str = setting("red", "a colour", choices=("red", "green"), noun="colour")
        shape: tuple[dict | None, ...] = setting((None,), "shapes", choices={"any": None, "sq": {}})
        curves: bool = setting(True, "the curves")
        fast: bool = setting(False, "go fast")
        hidden: int = 3

        def validate(self) -> None:
            if self.rate >= 1:
                raise ValueError("rate must be below 1")

    parser = argparse.ArgumentParser()
    add_settings(parser, Toy, prefix="toy")
    assert settings_from(parser.parse_args([]), Toy, prefix="toy") == Toy()
    argv = "--toy-rate 0.25 --toy-count 3 --toy-size 4 5 --toy-colour green --toy-shape sq any"
    args = parser.parse_args([*argv.split(), "--no-toy-curves", "--toy-fast"])
    assert settings_from(args, Toy, prefix="toy") == Toy(
        0.25, 3, (4, 5), "green", ({}, None), curves=False, fast=True
    )
    with pytest.raises(ConfigError, match="command line: rate must be below 1"):
        settings_from(parser.parse_args(["--toy-rate", "2"]), Toy, prefix="toy")
    assert "--toy-hidden" not in parser.format_help()
    assert "a rate (default 0.5)" in parser.format_help()
    assert "sizes (default 1 2)" in parser.format_help()
    assert "shapes (default any)" in parser.format_help()
    assert "skip the curves" in parser.format_help()


def test_an_unknown_choice_is_refused_with_the_close_matches(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["dissect", "run", "--similarity", "wpmj"])
    assert exit_.value.code == 2
    assert "unknown choice 'wpmj' (did you mean wpmi" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cam", "--methods", "gradcam", "abaltioncam"])
    assert "unknown method 'abaltioncam' (did you mean ablationcam" in capsys.readouterr().err


def test_a_bad_value_is_refused_as_a_config_would_be(capsys):
    assert main(["cam", "--batch-size", "0", "--images", "goldfish"]) == 2
    assert "command line: batch_size must be at least 1" in capsys.readouterr().err


def test_the_earlier_spellings_still_work():
    from explainlab.assignment import cli as assignment_cli
    from explainlab.compare import cli as compare_cli
    from explainlab.dissect import cli as dissect_cli
    from explainlab.lime import cli as lime_cli

    cam = _parse("cam", "--layer", "layer4")
    assert cam.target_layer == "layer4"
    compare = compare_cli.settings_from_args(
        _parse("compare", "--methods", "gradcam", "--primary", "gradcam", "--batch-size", "8")
    )
    assert compare.cam_methods == ("gradcam",) and compare.lime_batch_size == 8
    assert (
        dissect_cli.settings_from_args(_parse("dissect", "run", "--workers", "0")).num_workers == 0
    )
    assert lime_cli.lime_settings(_parse("lime", "--mask-features", "3")).mask_num_features == 3
    reference = assignment_cli.reference_settings(
        _parse("lime", "score", "f", "--reference-samples", "9")
    )
    assert reference.num_samples == 9
    tune = assignment_cli.tune_settings(
        _parse("lime", "tune", "--segmentations", "slic30", "default")
    )
    assert tune.space.segmentations[1] is None and tune.space.segmentations[0]["n_segments"] == 30
