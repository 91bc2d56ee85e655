"""Build every report a run folder has the results for, and the combined PDF.

reports/1_dissection.pdf   reports/2_cam.pdf   reports/3_lime.pdf
reports/4_comparison.pdf   reports/explainlab_report.pdf (all four)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from explainlab.assignment.report import cam_report, compare_report, dissect_report, lime_report
from explainlab.assignment.report.common import RunFacts
from explainlab.errors import ExplainlabError
from explainlab.report.pdf import merge_pdfs
from explainlab.stages import stage_dir

# (file name, the stage and the file of it the report needs, builder)
REPORTS: tuple[tuple[str, str, str, Callable[[RunFacts, Path], Path]], ...] = (
    ("1_dissection.pdf", "dissect", "analysis/concept_counts.csv", dissect_report.build),
    ("2_cam.pdf", "cam", "predictions.csv", cam_report.build),
    ("3_lime.pdf", "lime", "explanations.csv", lime_report.build),
    ("4_comparison.pdf", "compare", "summary.json", compare_report.build),
)
COMBINED = "explainlab_report.pdf"
# what a report may weigh to be shared (the submission zip holds them: 15 MB in all)
MAX_REPORT_BYTES = 3_000_000
MAX_COMBINED_BYTES = 8_000_000


def oversized(paths: list[Path]) -> list[str]:
    """The reports heavier than they may be, each with its size and its limit."""
    found = []
    for path in paths:
        limit = MAX_COMBINED_BYTES if path.name == COMBINED else MAX_REPORT_BYTES
        size = path.stat().st_size
        if size > limit:
            found.append(f"{path.name} is {size / 1e6:.1f} MB (limit {limit / 1e6:.0f} MB)")
    return found


def build_reports(run_dir: Path, *, stand_in: str = "", out: Path | None = None) -> list[Path]:
    """The reports whose inputs exist under ``run_dir``, then the combined PDF, into
    ``out`` (default the run's reports folder)."""
    run_dir = Path(run_dir)
    facts = RunFacts.read(run_dir, stand_in)
    out = Path(out) if out is not None else stage_dir(run_dir, "report")
    out.mkdir(parents=True, exist_ok=True)
    built: list[Path] = []
    problems: list[str] = []
    for name, stage, needs, builder in REPORTS:
        if not (stage_dir(run_dir, stage) / needs).is_file():
            continue
        try:
            built.append(builder(facts, out / name))
        except (OSError, KeyError, ValueError, IndexError) as exc:
            # One broken input must not cost the other reports.
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    if not built and not problems:
        raise ExplainlabError(
            f"{run_dir}: no results to report on", hint="run the stages first (explainlab run)"
        )
    if built:
        built.append(merge_pdfs(built, out / COMBINED))
    if problems:
        raise ExplainlabError(
            "some reports could not be built:\n  " + "\n  ".join(problems),
            hint="the other reports are kept; rerun the stage whose results are broken",
        )
    return built
