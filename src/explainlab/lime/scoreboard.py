"""The scoreboard stage: the run's LIME parameters (and lime's defaults, for comparison)
scored as the grader would (plain lime, timed, IoU against the consensus reference),
under ``<run>/lime_score/scoreboard_<name>.csv``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from explainlab import assets
from explainlab import estimate as estimates
from explainlab.context import Context, StageResult
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource
from explainlab.lime.params import load_param_file
from explainlab.lime.score import ScoreOutcome, score
from explainlab.lime.score import summary_lines as score_lines
from explainlab.lime.settings import ReferenceSettings, ScoreboardSettings
from explainlab.lime.stage import total_samples
from explainlab.models import LoadedModel
from explainlab.settings import DEFAULT_MAX_PIXELS, plain
from explainlab.stages import get_stage
from explainlab.versions import LIME_PACKAGES

DEFAULTS = "defaults"  # the candidate name of lime's default parameters


@dataclass
class ScoreboardOutcome:
    folder: Path
    scores: dict[str, ScoreOutcome] = field(default_factory=dict)  # candidate -> its scores
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False


def run_scoreboard(
    board: ScoreboardSettings,
    candidates: Mapping[str, str],
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel,
    reference: ReferenceSettings,
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> ScoreboardOutcome:
    """Score each candidate parameter file (name -> path; '' is lime's defaults) over
    ``sources``; ``scoreboard_<name>.csv`` per candidate."""
    opened = open_image_stage(
        get_stage("scoreboard").folder,
        board,
        sources,
        run_dir,
        model=model,
        max_pixels=max_pixels,
        force=force,
        packages=LIME_PACKAGES,
        extra={
            "reference": plain(reference),
            "candidates": {
                k: assets.file_digest(Path(p)) if p else "" for k, p in candidates.items()
            },
            "seed": seed,
        },
        on_start=on_start,
    )
    outcome = ScoreboardOutcome(opened.stage.final, failures=opened.failures)
    if opened.up_to_date:
        outcome.skipped = True
        return outcome
    with opened.stage.finishing() as folder:
        for name, path in candidates.items():
            outcome.scores[name] = score(
                load_param_file(path or None),
                sources,
                folder / f"scoreboard_{name}.csv",
                model=model,
                reference_settings=reference,
                cutoff=board.cutoff,
                seed=seed,
                max_pixels=max_pixels,
            )
    return outcome


def _candidates(ctx: Context) -> dict[str, str]:
    board = ctx.config.scoreboard
    return {"run": ctx.lime_params()} | ({DEFAULTS: ""} if board.include_defaults else {})


def estimate(ctx: Context) -> str:
    reference = ctx.config.tune.reference
    # the tune stage computes the same consensus references, and they are cached
    per_image = 0 if "tune" in ctx.config.run.stages else reference.seeds * reference.num_samples
    samples = sum(
        total_samples(load_param_file(path or None), ctx.sources)
        for path in _candidates(ctx).values()
    )
    model = ctx.model(ctx.config.lime.model)
    return estimates.line("scoreboard", len(ctx.sources) * per_image + samples, model)


def run_stage(ctx: Context) -> StageResult:
    board = ctx.config.scoreboard
    if not board.enabled:
        return StageResult(["scoreboard disabled ([scoreboard] enabled = false)"], skipped=True)
    outcome = run_scoreboard(
        board,
        _candidates(ctx),
        ctx.sources,
        ctx.run_dir,
        model=ctx.model(ctx.config.lime.model),
        reference=ctx.config.tune.reference,
        seed=ctx.config.lime.seed,
        **ctx.stage_options("scoreboard"),
    )
    if outcome.skipped:
        return StageResult([f"scoreboard up to date: {outcome.folder}"], True, outcome.failures)
    lines: list[str] = []
    facts = {}
    for name, scored in outcome.scores.items():
        lines += [f"scoreboard ({name} parameters):", *score_lines(scored)]
        facts[f"scoreboard_{name}"] = {
            "mean_iou": scored.mean_iou,
            "mean_seconds": scored.mean_seconds,
        }
    return StageResult(lines, False, outcome.failures, facts)
