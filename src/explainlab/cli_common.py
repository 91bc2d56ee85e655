"""Arguments shared by several subcommands, and reporting of per-input failures."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from explainlab.settings import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:  # the command line imports no stage code (nor torch) to parse
    from explainlab.images import Failure


MODEL_FORMS = (
    "a registered name (explainlab models), torchvision:NAME[:WEIGHTS], timm:NAME "
    "(':none' for random weights), or a model file (TorchScript, or a state dict with --arch)"
)


def add_model_args(parser: argparse.ArgumentParser, default: str | None) -> None:
    """--model and, for a state dict, --arch and --classes."""
    said = default or "the one the CAM stage recorded in the run"
    parser.add_argument("--model", default=default, help=f"{MODEL_FORMS} (default {said})")
    parser.add_argument(
        "--arch",
        default=None,
        metavar="torchvision:NAME|timm:NAME",
        help="the architecture of a state dict given as --model",
    )
    parser.add_argument(
        "--classes",
        default=None,
        metavar="FILE",
        help="class names, one a line (default: ImageNet's for 1000 outputs, else 'class i')",
    )


def load_model_arg(args: argparse.Namespace, device: str = "auto"):
    """The model --model, --arch and --classes name (a LoadedModel)."""
    from explainlab.models import load_model

    return load_model(args.model, device, arch=args.arch, classes=args.classes)


def add_images_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images",
        nargs="+",
        metavar="SRC",
        default=None,
        help="'mission' (the ten images, default), mission keys such as 'goldfish', image files or folders",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse images larger than this many pixels (default {DEFAULT_MAX_PIXELS:,})",
    )


def add_device_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="auto (GPU when available), cpu or cuda (default auto)"
    )


def add_out_arg(parser: argparse.ArgumentParser, default: str = "results/default") -> None:
    parser.add_argument(
        "--out", type=Path, default=Path(default), help=f"run folder (default {default})"
    )


def report_failures(failures: Sequence[Failure], stream=None) -> int:
    """Print each failed input; return the exit status (1 if any failed, else 0)."""
    if not failures:
        return 0
    stream = stream or sys.stderr
    print(f"\n{len(failures)} input(s) could not be processed:", file=stream)
    for failure in failures:
        print(f"  - {failure.key}: {failure.error}", file=stream)
    return 1


def writes_into(
    parser: argparse.ArgumentParser, folder: Callable[[argparse.Namespace], Path]
) -> None:
    """Declare the run folder a command writes into: it runs holding that folder's lock
    (one writer per folder; see :mod:`explainlab.runlock`)."""
    parser.set_defaults(run_folder=folder)


def reads_only(parser: argparse.ArgumentParser) -> None:
    """Declare that a command writes into no run folder (it takes no lock)."""
    parser.set_defaults(run_folder=None)


def method_among(known: Sequence[str]) -> Callable[[str], str]:
    """An argument type taking a method of ``known``: an unknown name is refused with the
    close matches (argparse's ``choices`` alone would list every name)."""
    from explainlab.methods import unknown_method_message

    def method(name: str) -> str:
        if name not in known:
            raise argparse.ArgumentTypeError(unknown_method_message(name, tuple(known)))
        return name

    return method
