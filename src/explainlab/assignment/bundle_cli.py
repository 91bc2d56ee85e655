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
    p.set_defaults(handler=_handle)
    reads_only(p)  # it reads the run folder; the zip is written atomically elsewhere


def _handle(args: argparse.Namespace) -> int:
    from explainlab.assignment.bundle import make_bundle

    result = make_bundle(args.team, args.run, args.out_dir, force=args.force)
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
