"""``explainlab report``: build the PDF reports of a run folder."""

from __future__ import annotations

import argparse
import sys

from explainlab.cli_common import add_run_arg, writes_into


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="build the PDF reports of a run",
        description="Build the PDF reports (dissection, CAM, LIME, comparison, and all four "
        "combined) from the results in a run folder; each report is built when its results exist.",
    )
    add_run_arg(p, "results/assignment")
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.run)  # it writes <run>/reports/


def _handle(args: argparse.Namespace) -> int:
    from explainlab.assignment.report.build import build_reports, oversized

    built = build_reports(args.run)
    for path in built:
        print(path)
    for problem in oversized(built):
        print(f"warning: {problem}", file=sys.stderr)
    return 0
