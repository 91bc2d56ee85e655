"""``explainlab bundle``: the submission zip."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explainlab.cli_common import add_force_arg, add_run_arg, reads_only


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bundle",
        help="write the submission zip TML25_A4_<team>.zip",
        description="Write TML25_A4_<team>.zip: README, reports, code, configs, the LIME parameter "
        "pickle and its JSON twin, descriptions.csv files and analysis tables; no weights, caches, "
        "activations, maps or probe images.",
    )
    p.add_argument(
        "--team", required=True, help="team number (the zip is named TML25_A4_<team>.zip)"
    )
    add_run_arg(p, "results/assignment")
    p.add_argument(
        "--out-dir", type=Path, default=Path("."), help="where to write the zip (default: here)"
    )
    add_force_arg(p, "overwrite an existing zip")
    p.add_argument(
        "--with-view",
        action="store_true",
        help="include the run's viewer (view/index.html and its files; written first if "
        "missing or out of date)",
    )
    p.set_defaults(handler=_handle)
    # it reads the run folder (locking it only to write a missing viewer); the zip is
    # written atomically elsewhere
    reads_only(p)


def _handle(args: argparse.Namespace) -> int:
    from explainlab.assignment.bundle import make_bundle

    if args.with_view and args.run.is_dir():
        from explainlab.runlock import hold_run_folder
        from explainlab.view.build import build_view

        with hold_run_folder(args.run, command="explainlab bundle --with-view"):
            build_view(args.run)  # kept when up to date
    result = make_bundle(
        args.team, args.run, args.out_dir, force=args.force, with_view=args.with_view
    )
    for name, size in result.entries:
        print(f"  {size / 1024:9.1f} KiB  {name}")
    print(f"\n{result.path}: {len(result.entries)} files, {result.size / 1e6:.2f} MB")
    if result.oversized:
        from explainlab.assignment.bundle import MAX_BUNDLE_BYTES

        print(
            f"warning: the zip is over {MAX_BUNDLE_BYTES / 1e6:.0f} MB; the reports' sizes are in "
            "the list above",
            file=sys.stderr,
        )
    return 0
