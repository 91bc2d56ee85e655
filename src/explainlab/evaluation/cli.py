"""``explainlab evaluate``: the report card of methods over a dataset (see
:func:`explainlab.evaluation.run.evaluate`). Exit status 1 when some inputs could not be
read (listed in ``failures.csv``); the others are evaluated."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

from explainlab.cli_common import (
    add_device_arg,
    add_force_arg,
    add_model_args,
    add_out_arg,
    add_seed_arg,
    load_model_arg,
    report_failures,
    writes_into,
)
from explainlab.errors import InputError
from explainlab.settings import DEFAULT_MAX_PIXELS

DEFAULT_MODEL = "efficientnet_lite0"  # the trained model that works offline
LAYOUTS = ("auto", "flat", "imagefolder")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="a report card of explanation methods over a dataset (measures, ranks, tests)",
        description="Evaluate explanation methods with the registered measures on a dataset, "
        "streaming the images in batches; writes the per-image tables, card.csv, ranks.csv, "
        "significance.csv, agreement_matrix.csv, costs.csv, card.png and report_card.pdf into "
        "--out. A rerun resumes from the last finished batch.",
    )
    p.add_argument(
        "--images",
        default="mission",
        metavar="SRC",
        help="a folder (recursively), an ImageFolder tree (folder names are classes), a CSV "
        "of paths (columns path, and optionally label, x0 y0 x1 y1 or mask), or 'mission' "
        "(default mission)",
    )
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="auto",
        help="a folder's layout: 'imagefolder' when every file lies one folder deep (default auto)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        metavar="NAME",
        default=None,
        help="method names, a kind, or 'all' (default: the cheap ones)",
    )
    p.add_argument(
        "--measures",
        nargs="+",
        metavar="NAME",
        default=None,
        help="measure names (default: every measure of a batch; those against a region when "
        "the CSV gives boxes or masks)",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="MEASURE.NAME=VALUE",
        help="a measure's keyword argument, e.g. road_morf.percentiles=[30,70] (repeatable)",
    )
    add_model_args(p, DEFAULT_MODEL)
    p.add_argument("--layer", default=None, help="CAM target layer (default: the model's)")
    p.add_argument(
        "--target",
        choices=("predicted", "label"),
        default="predicted",
        help="the class explained: the model's top-1, or the true label where given "
        "(default predicted)",
    )
    p.add_argument("--batch-size", type=int, default=16, help="images per batch (default 16)")
    p.add_argument(
        "--impl",
        choices=("fast", "library"),
        default="fast",
        help="CAMs by our exact fast variants or by pytorch-grad-cam itself (default fast)",
    )
    add_seed_arg(p, 0, "seed of the measures' random draws and of the bootstrap")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse images larger than this many pixels (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument("--no-report", action="store_true", help="tables only: no figure, no PDF")
    p.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run the shards as Ray tasks on the cluster at ADDRESS (host:6379), or 'auto' "
        "(this machine's cluster, else a new local one); needs pip install explainlab[ray]",
    )
    p.add_argument(
        "--shards", type=int, default=None, help="with --ray: shards (default: one per worker)"
    )
    add_device_arg(p)
    add_force_arg(p)
    add_out_arg(p, "results/evaluate")
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.out)


def measure_options(given: list[str]) -> dict[str, dict[str, Any]]:
    """``["road_morf.percentiles=[30,70]"]`` -> ``{"road_morf": {"percentiles": [30, 70]}}``
    (a value is a Python literal, else the text)."""
    options: dict[str, dict[str, Any]] = {}
    for text in given:
        name, dot, rest = text.partition(".")
        key, equals, value = rest.partition("=")
        if not (dot and equals and name and key):
            raise InputError(
                f"--option {text!r}: expected MEASURE.NAME=VALUE",
                hint="e.g. --option infidelity.samples=4",
            )
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        options.setdefault(name, {})[key] = parsed
    return options


def _handle(args: argparse.Namespace) -> int:
    import shutil

    from explainlab.evaluation.run import SHARDS, evaluate
    from explainlab.explain_cli import chosen_methods
    from explainlab.images import Failure

    model = load_model_arg(args, args.device)
    if args.force:
        shutil.rmtree(Path(args.out) / SHARDS, ignore_errors=True)
    found = evaluate(
        model,
        args.images,
        chosen_methods(args.methods),
        args.measures,
        args.out,
        batch_size=args.batch_size,
        target=args.target,
        layer=args.layer,
        impl=args.impl,
        seed=args.seed,
        options=measure_options(args.option),
        max_pixels=args.max_pixels,
        layout=args.layout,
        report=not args.no_report,
        ray=args.ray,
        shards=args.shards,
        device=args.device,
    )
    card = found.card.card
    print(f"{len(found.tables['images.csv'])} images evaluated into {args.out}")
    for measure in found.plan.measures:
        best = card[(card["measure"] == measure) & (card["rank"] == 1)]["method"].tolist()
        print(f"  {measure}: best {', '.join(best) or 'n/a'}")
    failures = [
        Failure(str(r.key), Path(str(r.path)), str(r.reason)) for r in found.failures.itertuples()
    ]
    return report_failures(failures)
