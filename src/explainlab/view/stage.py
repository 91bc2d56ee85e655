"""The view stage, the last of a run: its folder as static HTML pages (``view/``)."""

from __future__ import annotations

from explainlab.context import Context, StageResult
from explainlab.view.build import build_view


def run_stage(ctx: Context) -> StageResult:
    outcome = build_view(ctx.run_dir, force=ctx.forced("view"))
    lines = [f"open {outcome.index} (or explainlab view --run {ctx.run_dir} --serve)"]
    if outcome.skipped:
        return StageResult(lines, skipped=True)
    lines.append(
        f"{outcome.images} images, {outcome.units} units, {outcome.tables} tables, "
        f"{outcome.size() / 1e6:.1f} MB"
    )
    return StageResult(lines, facts={"index": "index.html", "bytes": outcome.size()})
