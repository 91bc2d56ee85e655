"""The LIME stage of a run: :func:`explainlab.lime.run.run_lime` on the run's images with
the ``[lime]`` settings and the run's parameter file, and its time estimate."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from explainlab import estimate as estimates
from explainlab.context import Context, StageResult
from explainlab.images import ImageSource
from explainlab.lime.params import ParamFile, load_param_file
from explainlab.lime.run import output_lines, run_lime, summary_lines


def total_samples(param_file: ParamFile, sources: Sequence[ImageSource]) -> int:
    """LIME samples (classifier images) that a parameter file asks for over ``sources``."""
    return sum(param_file.params_for(s.key)[0]["num_samples"] for s in sources)


def estimate(ctx: Context) -> str:
    model = ctx.model(ctx.config.lime.model)
    samples = total_samples(load_param_file(ctx.lime_params()), ctx.sources)
    return estimates.line("lime", samples, model)


def run_stage(ctx: Context) -> StageResult:
    settings = dataclasses.replace(ctx.config.lime, params=ctx.lime_params())
    outcome = run_lime(
        settings,
        ctx.sources,
        ctx.run_dir,
        model=ctx.model(settings.model),
        **ctx.stage_options("lime"),
    )
    lines = [*summary_lines(outcome), *output_lines(outcome.folder)]
    return StageResult(
        lines, outcome.skipped, outcome.failures, {"params": settings.params or "lime defaults"}
    )
