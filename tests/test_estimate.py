"""CPU time estimates: counts from the settings, seconds measured on this machine."""

from __future__ import annotations

from explainlab import estimate


def test_describe_picks_a_readable_unit():
    assert estimate.describe(42) == "42 s"
    assert estimate.describe(600) == "10 min"
    assert estimate.describe(7200) == "2.0 h"


def test_estimate_line_uses_the_measured_speed(lite0):
    per = estimate.seconds_per_image(lite0)
    assert per > 0 and estimate.seconds_per_image(lite0) == per  # measured once, cached
    assert estimate.target_channels(lite0) == 1280
    line = estimate.line("cam", 1000, lite0)
    assert f"{per:.3f} s" in line and "1,000 image forward passes of efficientnet_lite0" in line
    assert not lite0.module.bn2._forward_hooks  # the channel probe removed its hook


def test_estimates_are_printed_only_for_stages_that_will_run(tmp_path, lite0, capsys):
    from explainlab import runfolder
    from explainlab.config import RunConfig, RunSettings
    from explainlab.pipeline import Context

    config = RunConfig(run=RunSettings(name="t", output_root=str(tmp_path), device="cpu"))
    done = config.run_dir / "tune"
    done.mkdir(parents=True)
    (done / runfolder.FINGERPRINT_FILE).write_text("{}")
    calls = []

    def forwards() -> int:
        calls.append(1)
        return 10

    ctx = Context(config, [])
    ctx.estimate("tune (references, cached afterwards)", forwards, lite0, stage="tune")
    assert not calls and capsys.readouterr().out == ""  # up to date: not even counted
    ctx.estimate("cam", forwards, lite0, stage="cam")
    assert calls == [1] and "estimate (cpu): cam ≈" in capsys.readouterr().out
    forced = Context(config, [], frozenset({"tune"}))
    forced.estimate("tune (references, cached afterwards)", 10, lite0, stage="tune")
    assert "tune (references, cached afterwards) ≈" in capsys.readouterr().out
