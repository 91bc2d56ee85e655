"""``explainlab methods``: the registered explanation methods, their references and costs."""

from __future__ import annotations

import argparse

from explainlab.cli_common import reads_only


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "methods",
        help="list the registered explanation methods",
        description="List every registered explanation method: its kind, the reference "
        "implementation it equals, its cost per image in forward and backward passes (C: the "
        "target layer's channels) and whether a fast variant exists.",
    )
    p.add_argument("--markdown", action="store_true", help="as a markdown table (the README's)")
    p.set_defaults(handler=_handle)
    reads_only(p)


def _handle(args: argparse.Namespace) -> int:
    from explainlab.methods import listing

    print(listing.markdown() if args.markdown else listing.plain(), end="")
    return 0
