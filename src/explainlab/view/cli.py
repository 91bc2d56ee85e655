"""``explainlab view``: write a run's viewer (``<run>/view/index.html``), and serve it."""

from __future__ import annotations

import argparse

from explainlab.cli_common import add_force_arg, add_run_arg, reads_only

DEFAULT_RUN = "results/assignment"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "view",
        help="write the run as static HTML pages (view/index.html)",
        description="Write <run>/view/index.html: the explanations (image x method grid, one "
        "image's detail), the measures' sortable tables and figures, a card per dissected unit "
        "and the run's manifest. Static files, no network: open index.html from the file "
        "system, or pass --serve.",
    )
    add_run_arg(p, DEFAULT_RUN)
    add_force_arg(p, "rebuild the viewer even if it is up to date")
    p.add_argument(
        "--serve",
        action="store_true",
        help="then serve it over HTTP on 127.0.0.1 (for folders too large for file://)",
    )
    p.add_argument(
        "--port", type=int, default=8000, help="port of --serve (default 8000; 0: any free one)"
    )
    p.set_defaults(handler=_handle)
    # it holds the run folder's lock while it writes the viewer, not while it serves
    reads_only(p)


def _handle(args: argparse.Namespace) -> int:
    from explainlab.errors import InputError
    from explainlab.runlock import hold_run_folder
    from explainlab.view.build import build_view

    if not args.run.is_dir():  # checked before the lock, which would make the folder
        raise InputError(f"{args.run}: no such run folder", hint="give a run folder (--run)")
    with hold_run_folder(args.run, command="explainlab view"):
        outcome = build_view(args.run, force=args.force)
    state = "up to date" if outcome.skipped else "written"
    print(f"{outcome.index} ({state}, {outcome.size() / 1e6:.1f} MB)")
    if args.serve:
        from explainlab.view.serve import serve

        serve(outcome.folder, args.port)
    return 0
