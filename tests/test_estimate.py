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


def test_cam_stage_counts_the_shared_pass_once_and_the_attributions_by_their_settings():
    from explainlab.attributions.settings import AttributionSettings
    from explainlab.cam.settings import CamSettings
    from explainlab.cam.stage import image_forwards

    few = AttributionSettings(rise_masks=40, ig_steps=10)

    def forwards(*methods: str, impl: str = "fast") -> int:
        return image_forwards(CamSettings(methods=methods, impl=impl, attributions=few), 512, 224)

    # Grad-CAM, Grad-CAM++ and EigenCAM read one forward and backward pass: 1 + 2
    assert forwards("gradcam", "gradcamplusplus", "eigencam") == 3
    assert forwards("gradcam", "gradcamplusplus", impl="library") == 6  # one pass each
    assert forwards("eigencam", "kpca_cam") == 1  # the shared pass needs no backward
    assert forwards("scorecam") == 512  # one masked image per channel
    assert forwards("rise") == 40 and forwards("integratedgradients") == 10 + 2 * 10
    assert forwards("gradcam", "layercam", "saliency", "rise") == 3 + 3 + 40
