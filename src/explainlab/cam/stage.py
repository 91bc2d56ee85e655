"""The CAM stage of a run (``explainlab run``): :func:`explainlab.cam.run.run_cam` on the
run's images with the ``[cam]`` settings, and its time estimate."""

from __future__ import annotations

from explainlab import estimate as estimates
from explainlab.attributions.settings import passes as attribution_passes
from explainlab.cam.run import run_cam, summary_lines
from explainlab.cam.settings import CamSettings
from explainlab.context import Context, StageResult
from explainlab.methods import Passes, get_method


def estimate(ctx: Context) -> str:
    settings = ctx.config.cam
    model = ctx.model(settings.model)
    channels = estimates.target_channels(model, settings.target_layer or None)
    forwards = len(ctx.sources) * image_forwards(settings, channels, model.geometry.crop)
    return estimates.line("cam", forwards, model)


def image_forwards(settings: CamSettings, channels: int, crop: int) -> int:
    """Forward-pass equivalents of one image: each method's passes, except that the CAMs
    one pass serves (impl "fast", two or more of them) cost that one pass, once."""
    from explainlab.cam.gradients import SHARED

    methods = list(dict.fromkeys(settings.methods))
    shared = [m for m in methods if m in SHARED] if settings.impl == "fast" else []
    if len(shared) < 2:
        shared = []
    costs = {m: image_passes(m, channels, settings, crop).forward_equivalents() for m in methods}
    alone = sum(cost for m, cost in costs.items() if m not in shared)
    return alone + max((costs[m] for m in shared), default=0)


def image_passes(method: str, channels: int, settings: CamSettings, crop: int) -> Passes:
    """One image's passes of ``method``: the registry's, or, for a gradient or
    perturbation method, those its stage settings (steps, samples, masks) cost on the crop."""
    spec = get_method(method)
    if spec.kind == "cam":
        return spec.passes(channels, settings.impl)
    return Passes(*attribution_passes(method, settings.attributions, crop))


def run_stage(ctx: Context) -> StageResult:
    settings = ctx.config.cam
    outcome = run_cam(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=ctx.model(settings.model),
        **ctx.stage_options("cam"),
    )
    correct = outcome.predictions["top1_correct"].dropna()
    return StageResult(
        summary_lines(outcome),
        outcome.skipped,
        outcome.failures,
        {
            "images": len(outcome.predictions),
            "top1_correct": int(correct.sum()),
            "model": settings.model,
        },
    )
