"""The scoreboard stage: the run's LIME parameters (and lime's defaults, for comparison)
scored as the grader would (plain lime, timed and counted, IoU against the consensus
reference) under a reference hypothesis (by default the one the tune stage used), under
``<run>/lime_score/scoreboard_<name>.csv``.

lime's defaults are scored once per run: where the tune stage scored them alike (its
baseline, against the same reference and cost model), the scoreboard takes its numbers
(:func:`defaults_from_tuner`) instead of running them again."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explainlab import assets, runfolder
from explainlab import estimate as estimates
from explainlab.assignment.cost import CostModel
from explainlab.assignment.costmeasure import cost_model_for_sources
from explainlab.assignment.hypotheses import DEFAULT_HYPOTHESIS
from explainlab.assignment.score import COLUMNS, ScoreOutcome, score, segmentations_used
from explainlab.assignment.score import summary_lines as score_lines
from explainlab.assignment.settings import TUNER, ReferenceSettings, ScoreboardSettings
from explainlab.context import Context, StageResult
from explainlab.image_stage import open_image_stage
from explainlab.images import Failure, ImageSource
from explainlab.lime.params import load_param_file
from explainlab.lime.settings import DEFAULT_MASK_K
from explainlab.lime.stage import total_samples
from explainlab.models import LoadedModel
from explainlab.settings import DEFAULT_MAX_PIXELS, plain
from explainlab.stages import get_stage
from explainlab.versions import LIME_PACKAGES

DEFAULTS = "defaults"  # the candidate name of lime's default parameters


@dataclass(kw_only=True)
class ScoreboardOutcome:
    folder: Path
    scores: dict[str, ScoreOutcome] = field(default_factory=dict)  # candidate -> its scores
    failures: list[Failure] = field(default_factory=list)
    skipped: bool = False
    hypothesis: str = DEFAULT_HYPOTHESIS


def scoreboard_hypothesis(board: ScoreboardSettings, tune_folder: Path | None) -> str:
    """The hypothesis named in ``[scoreboard]``, or the tune stage's (recorded in its
    hypothesis.json), ``crop`` when it did not run."""
    if board.hypothesis != TUNER:
        return board.hypothesis
    recorded = tune_folder / "hypothesis.json" if tune_folder else None
    if recorded is not None and recorded.is_file():
        return str(json.loads(recorded.read_text(encoding="utf-8"))["name"])
    return DEFAULT_HYPOTHESIS


def defaults_from_tuner(
    tune: Path | None,
    model: LoadedModel,
    keys: Sequence[str],
    hypothesis: str,
    prices: CostModel,
) -> pd.DataFrame | None:
    """lime's defaults as the tune stage scored them, in the scoreboard's columns: per
    image the mean IoU over its sampling seeds against the same reference, and the counted
    cost of plain lime; ``seconds`` is NaN (plain lime was not timed). None where the tune
    stage did not score them alike: another hypothesis or cost model, or a missing image."""
    if tune is None or not (tune / "trials.csv").is_file():
        return None
    recorded = json.loads((tune / "hypothesis.json").read_text(encoding="utf-8"))
    if recorded["name"] != hypothesis or recorded.get("model") != model.name:
        return None
    if CostModel.load(tune / "cost_model.json").digest() != prices.digest():
        return None
    trials = pd.read_csv(tune / "trials.csv")
    if "label" not in trials:  # a tune stage written before it kept the label
        return None
    base = trials[(trials["kind"] == "baseline") & (trials["mask_k"] == DEFAULT_MASK_K)]
    base = base.drop_duplicates("key").set_index("key")
    if any(k not in base.index for k in keys):
        return None
    base = base.loc[list(keys)]
    return pd.DataFrame(
        {
            "key": list(keys),
            "label": base["label"].astype(int).to_numpy(),
            "label_name": [model.class_names[int(i)] for i in base["label"]],
            "iou": base["iou"].round(6).to_numpy(),
            "cost_seconds": base["cost_seconds"].round(4).to_numpy(),
            "seconds": float("nan"),
            "status": base["status"].to_numpy(),
            "mask_k": DEFAULT_MASK_K,
            "num_samples": base["images"].astype(int).to_numpy(),
            "hypothesis": hypothesis,
            "reference": "consensus",
            "error": ["" if e != e else str(e) for e in base["error"]],  # NaN: no error
        },
        columns=list(COLUMNS),
    )


def run_scoreboard(
    board: ScoreboardSettings,
    candidates: Mapping[str, str],
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel,
    reference: ReferenceSettings,
    hypothesis: str = DEFAULT_HYPOTHESIS,
    cost_model: str = "",
    seed: int = 0,
    tune: Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> ScoreboardOutcome:
    """Score each candidate parameter file (name -> path; '' is lime's defaults) over
    ``sources`` under ``hypothesis``; ``scoreboard_<name>.csv`` per candidate. The cost
    model is ``cost_model`` (a path), else this machine's. With ``tune`` (the run's tune
    stage folder), lime's defaults come from it where it scored them alike."""
    files = {name: load_param_file(path or None) for name, path in candidates.items()}
    keys = [s.key for s in sources]
    used = [seg for f in files.values() for seg in segmentations_used(f, keys)]
    prices = cost_model_for_sources(model, sources, used, path=cost_model, max_pixels=max_pixels)
    known = {}
    if DEFAULTS in files and not files[DEFAULTS].images and not files[DEFAULTS].defaults:
        found = defaults_from_tuner(tune, model, keys, hypothesis, prices)
        known = {DEFAULTS: found} if found is not None else {}
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
            "hypothesis": hypothesis,
            "cost_model": prices.digest(),
            "from_tuner": {k: runfolder.fingerprint(t.to_dict("list")) for k, t in known.items()},
        },
        on_start=on_start,
    )
    outcome = ScoreboardOutcome(
        folder=opened.stage.final, failures=opened.failures, hypothesis=hypothesis
    )
    if opened.up_to_date:
        outcome.skipped = True
        return outcome
    with opened.stage.finishing() as folder:
        for name, table in known.items():
            csv = folder / f"scoreboard_{name}.csv"
            runfolder.write_csv(csv, table)
            outcome.scores[name] = ScoreOutcome(table, csv, [], from_tuner=True)
        for name, param_file in files.items():
            if name in known:
                continue
            outcome.scores[name] = score(
                param_file,
                sources,
                folder / f"scoreboard_{name}.csv",
                model=model,
                reference_settings=reference,
                hypothesis=hypothesis,
                cost_model=prices,
                cutoff=board.cutoff,
                seed=seed,
                max_pixels=max_pixels,
            )
        prices.save(folder / "cost_model.json")  # the rates that priced the costs
    return outcome


def _candidates(ctx: Context) -> dict[str, str]:
    board = ctx.config.scoreboard
    return {"run": ctx.lime_params()} | ({DEFAULTS: ""} if board.include_defaults else {})


def estimate(ctx: Context) -> str:
    reference = ctx.config.tune.reference
    tuned = "tune" in ctx.config.run.stages and ctx.config.tune.model == ctx.config.lime.model
    # the tune stage computes the same consensus references (cached) and lime's defaults
    per_image = 0 if tuned else reference.seeds * reference.num_samples
    samples = sum(
        total_samples(load_param_file(path or None), ctx.sources)
        for name, path in _candidates(ctx).items()
        if not (tuned and name == DEFAULTS)
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
        hypothesis=scoreboard_hypothesis(board, ctx.folder("tune")),
        cost_model=ctx.config.tune.cost_model,
        seed=ctx.config.lime.seed,
        tune=ctx.folder("tune") if ctx.config.tune.model == ctx.config.lime.model else None,
        **ctx.stage_options("scoreboard"),
    )
    if outcome.skipped:
        return StageResult([f"scoreboard up to date: {outcome.folder}"], True, outcome.failures)
    lines: list[str] = []
    facts: dict = {"hypothesis": outcome.hypothesis}
    for name, scored in outcome.scores.items():
        source = (
            "; the tune stage's baseline runs, wall time not re-timed" if scored.from_tuner else ""
        )
        lines += [
            f"scoreboard ({name} parameters, {outcome.hypothesis}{source}):",
            *score_lines(scored),
        ]
        facts[f"scoreboard_{name}"] = {
            "mean_iou": scored.mean_iou,
            "mean_cost": scored.mean_cost,
            "mean_seconds": scored.mean_seconds,
        }
    return StageResult(lines, False, outcome.failures, facts)
