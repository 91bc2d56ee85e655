"""The report stage of a run: every report its results allow, and the combined PDF.

Up to date when the results it reads are: its fingerprint holds the fingerprint keys of
every stage folder it reads (dissect's per-model and analysis folders included), so a
rerun with nothing changed rebuilds nothing."""

from __future__ import annotations

from explainlab import runfolder
from explainlab.assignment.report.build import build_reports, oversized
from explainlab.context import Context, StageResult
from explainlab.errors import ExplainlabError
from explainlab.stages import get_stage
from explainlab.versions import package_versions


def run_stage(ctx: Context) -> StageResult:
    spec = get_stage("report")
    stage = runfolder.Stage(
        ctx.run_dir,
        spec.folder,
        {
            "inputs": runfolder.input_keys(
                ctx.run_dir, [get_stage(name).folder for name in spec.reads]
            ),
            "stand_in": ctx.stand_in,
            "versions": package_versions("reportlab", "matplotlib", "pypdf"),
        },
    )
    if ctx.forced("report"):
        stage.reset()
    if stage.complete and not ctx.forced("report"):
        paths = sorted(stage.final.glob("*.pdf"))
        return StageResult([f"{p.name}: {p}" for p in paths], skipped=True)
    try:
        built = build_reports(ctx.run_dir, stand_in=ctx.stand_in, out=stage.folder)
    except ExplainlabError:
        # keep the reports that were built; without a fingerprint the next run retries
        if any(stage.partial.glob("*.pdf")):
            stage.commit()
            (stage.final / runfolder.FINGERPRINT_FILE).unlink(missing_ok=True)
        raise
    stage.commit()
    paths = [stage.final / p.name for p in built]
    heavy = oversized(paths)
    return StageResult(
        [f"{p.name}: {p}" for p in paths] + [f"warning: {h}" for h in heavy],
        facts={"reports": [p.name for p in paths], "oversized": heavy},
    )
