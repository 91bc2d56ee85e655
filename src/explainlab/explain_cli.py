"""``explainlab explain``: any registered methods on images, one folder per image.

The command line of :func:`explainlab.explain`: each image's maps (``<method>.npy``, an
overlay each), ``panel.png`` with every method's map, and ``item.json``, under
``--out/<image>/``. An image that fails is reported and the others are still explained."""

from __future__ import annotations

import argparse

from explainlab.cli_common import (
    add_device_arg,
    add_images_arg,
    add_model_args,
    add_out_arg,
    load_model_arg,
    report_failures,
    writes_into,
)
from explainlab.errors import InputError
from explainlab.methods import KINDS, method_names, unknown_method_message

ALL = "all"
DEFAULT_MODEL = "efficientnet_lite0"  # the trained model that works offline


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain",
        help="any registered explanation methods on images (maps, overlays, a panel)",
        description="Explain the chosen images with any registered methods (`explainlab "
        "explain --methods all` for every one); writes each image's maps, overlays, panel.png "
        "and item.json under --out/<image>/.",
    )
    add_images_arg(p)
    p.add_argument(
        "--methods",
        nargs="+",
        metavar="NAME",
        default=None,
        help=f"method names, a kind ({', '.join(KINDS)}) for all of that kind, or '{ALL}' "
        "(default: the cheap ones, one forward and one backward pass each)",
    )
    add_model_args(p, DEFAULT_MODEL)
    p.add_argument(
        "--layer", default=None, help="target layer (default: the model's, else located)"
    )
    p.add_argument(
        "--target", type=int, default=None, help="class to explain (default: each top-1 class)"
    )
    p.add_argument(
        "--impl",
        choices=("fast", "library"),
        default="fast",
        help="CAMs by our exact fast variants or by pytorch-grad-cam itself (default fast)",
    )
    add_device_arg(p)
    add_out_arg(p, "results/explain")
    p.set_defaults(handler=_handle)
    writes_into(p, lambda args: args.out)


def chosen_methods(given: list[str] | None) -> list[str] | None:
    """Method names from ``--methods``: names, kinds and 'all' expanded, repeats dropped;
    None (xl.explain's cheap defaults) when none are given."""
    if not given:
        return None
    names: list[str] = []
    for word in given:
        if word == ALL:
            names.extend(method_names())
        elif word in KINDS:
            names.extend(method_names(word))
        elif word in method_names():
            names.append(word)
        else:
            raise InputError(
                unknown_method_message(word), hint=f"or a kind ({', '.join(KINDS)}), or '{ALL}'"
            )
    return list(dict.fromkeys(names))


def _handle(args: argparse.Namespace) -> int:
    from explainlab.explaining import explain
    from explainlab.images import Failure, resolve_sources

    methods = chosen_methods(args.methods)
    model = load_model_arg(args, args.device)
    failures = []
    for source in resolve_sources(args.images):
        try:
            (found,) = explain(
                model, {source.key: source.path}, methods, args.target, args.layer, impl=args.impl
            )
        except InputError as exc:
            failures.append(Failure(source.key, source.path, str(exc)))
            continue
        folder = found.save(args.out / source.key)
        timing = ", ".join(f"{m} {s:.2f} s" for m, s in found.seconds.items())
        print(f"{source.key}: {found.target_name} — {timing}")
        print(f"  {folder}/panel.png")
    return report_failures(failures)
