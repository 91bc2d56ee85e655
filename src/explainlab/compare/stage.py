"""The compare stage of a run: :func:`explainlab.compare.run.run_compare` on the run's CAM
and LIME results with the ``[compare]`` settings, the sanity check using the LIME stage's
own explainer, and its time estimate."""

from __future__ import annotations

from explainlab import estimate as estimates
from explainlab.compare.explainers import lime_params_explainer
from explainlab.compare.run import run_compare, summary_lines
from explainlab.compare.settings import LIME
from explainlab.context import Context, StageResult
from explainlab.images import load_samples


def estimate(ctx: Context) -> str:
    settings = ctx.config.compare
    methods = len(settings.cam_methods or ctx.config.cam.methods) + 1
    faith = (
        (settings.steps + 1) * (methods + settings.random_repeats) * 2
        if settings.faithfulness
        else 0
    )
    return estimates.line(
        "compare (faithfulness; the sanity check adds its explainers' cost)",
        len(ctx.sources) * faith,
        ctx.model(ctx.config.cam.model),
    )


def run_stage(ctx: Context) -> StageResult:
    settings = ctx.config.compare
    model = ctx.model(ctx.config.cam.model)
    samples, _ = load_samples(ctx.sources, model.geometry, max_pixels=ctx.config.images.max_pixels)
    outcome = run_compare(
        settings,
        ctx.run_dir,
        model=model,
        samples=samples,
        explainers={
            LIME: lime_params_explainer(ctx.config.lime, ctx.lime_params(), model.geometry)
        },
        **ctx.stage_options("compare"),
    )
    return StageResult(
        summary_lines(outcome),
        outcome.skipped,
        outcome.failures,
        {"simple_images_agree_more": outcome.summary.get("complexity", {}).get("verdict")},
    )
