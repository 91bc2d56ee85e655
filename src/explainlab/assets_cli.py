"""``explainlab assets``: list, fetch and verify the registered files; ``explainlab models``."""

from __future__ import annotations

import argparse

from explainlab import assets
from explainlab.cli_common import reads_only


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "assets",
        help="list, fetch or verify downloadable files (mirror: EXPLAINLAB_MIRROR)",
        description="The asset registry: every downloadable file with its URL and checksum. "
        "Files are looked up in the cache, then in EXPLAINLAB_MIRROR (by name, recursively), then downloaded.",
    )
    p.add_argument(
        "action",
        choices=["list", "fetch"],
        help="list: show each file and where it is; fetch: get them",
    )
    p.add_argument("names", nargs="*", help="file names (default: all except the 1 GB Broden zip)")
    p.set_defaults(handler=_assets)
    reads_only(p)  # it writes the download cache (atomic, verified), no run folder

    m = subparsers.add_parser(
        "models",
        help="list the registered models, and the forms any other model takes",
        description="List the registered models. Any other classifier is named as "
        "torchvision:NAME[:WEIGHTS] (any torchvision classification model; weights by enum "
        "name, DEFAULT when left out), timm:NAME (any timm model, pretrained through timm's "
        "hub cache), either with :none for seeded random weights, or a model file: "
        "TorchScript, or a state dict with --arch torchvision:NAME or timm:NAME.",
    )
    m.set_defaults(handler=_models)
    reads_only(m)


def _locate(asset: assets.Asset) -> str:
    try:
        return str(assets.fetch(asset.filename, allow_download=False))
    except assets.AssetError:
        return "-"


def _assets(args: argparse.Namespace) -> int:
    names = args.names or [n for n, a in assets.ASSETS.items() if a.group != "broden"]
    chosen = [assets.get_asset(n) for n in names]
    if args.action == "list":
        for a in chosen:
            print(f"{a.filename}\n    {a.checksum}\n    {a.url}\n    local: {_locate(a)}")
        return 0
    paths = assets.fetch_many(names)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from explainlab.models import MODELS

    for spec in MODELS.values():
        print(
            f"{spec.name:20s} {spec.description}\n{'':20s} classes={spec.num_classes} "
            f"target layer={spec.target_layer} weights: {spec.weights_source}"
        )
    print(
        "\nany other model: torchvision:NAME[:WEIGHTS], timm:NAME (':none' for random "
        "weights), or a model file (TorchScript, or a state dict with --arch)"
    )
    return 0
