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
