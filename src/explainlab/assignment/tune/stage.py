"""The tune stage of a run: :func:`explainlab.assignment.tune.tune` on the run's images with the
``[tune]`` settings, and its time estimate."""

from __future__ import annotations

from explainlab import estimate as estimates
from explainlab.assignment.tune.run import summary_lines, tune
from explainlab.assignment.tune.space import baseline
from explainlab.context import Context, StageResult


def estimate(ctx: Context) -> str:
    settings = ctx.config.tune
    model = ctx.model(settings.model)
    reference = settings.reference.seeds * settings.reference.num_samples
    # lime's defaults and their ladder: one set of samples per repeat, outside the budget
    defaults = settings.repeats * max(
        baseline(settings.seed)["num_samples"], *settings.space.num_samples
    )
    return estimates.line(
        "tune (references, cached afterwards; lime's defaults)",
        len(ctx.sources) * (reference + defaults),
        model,
        60 * settings.budget_minutes,
    )


def run_stage(ctx: Context) -> StageResult:
    settings = ctx.config.tune
    outcome = tune(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=ctx.model(settings.model),
        **ctx.stage_options("tune"),
    )
    return StageResult(
        summary_lines(outcome),
        outcome.skipped,
        outcome.failures,
        {
            "budget_minutes": settings.budget_minutes,
            "hypothesis": outcome.hypothesis.get("name"),
            "target_met": outcome.choice.get("met"),
            "verdict": outcome.choice.get("verdict"),
        },
    )
