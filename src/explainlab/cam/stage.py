"""The CAM stage of a run (``explainlab run``): :func:`explainlab.cam.run.run_cam` on the
run's images with the ``[cam]`` settings, and its time estimate."""

from __future__ import annotations

from explainlab import estimate as estimates
from explainlab.cam.run import run_cam, summary_lines
from explainlab.context import Context, StageResult
from explainlab.methods import get_method


def estimate(ctx: Context) -> str:
    settings = ctx.config.cam
    model = ctx.model(settings.model)
    channels = estimates.target_channels(model, settings.target_layer or None)
    per_image = sum(
        get_method(m).passes(channels, settings.impl).forward_equivalents()
        for m in settings.methods
    )
    forwards = len(ctx.sources) * per_image
    return estimates.line("cam", forwards, model)


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
