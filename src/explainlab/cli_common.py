"""The command line's building blocks: options generated from the settings dataclasses,
the options several subcommands share (each defined once here), and reporting of
per-input failures."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explainlab import packages
from explainlab.errors import unknown_name
from explainlab.settings import DEFAULT_MAX_PIXELS, from_table
from explainlab.stages import resolve_path

if TYPE_CHECKING:  # the command line imports no stage code (nor torch) to parse
    from explainlab.images import Failure


MODEL_FORMS = (
    "a registered name (explainlab models), torchvision:NAME[:WEIGHTS], timm:NAME "
    "(':none' for random weights), or a model file (TorchScript, or a state dict with --arch)"
)
FORCE_HELP = "recompute from nothing, even if up to date"


# --- options generated from a settings dataclass -------------------------------------------


def add_settings(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    prefix: str = "",
    only: tuple[str, ...] | None = None,
) -> None:
    """An option for each field of ``cls`` declared with :func:`explainlab.settings.setting`:
    ``--field-name`` (``--prefix-field-name``), its type from the annotation, its help and
    choices from the field. An option not given leaves no value (the dataclass's default
    applies, :func:`settings_from`), so the settings stay the one source of defaults and
    checks. A field a shared option stands for (``model``) gets that option. ``only``:
    these fields' options alone."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        if f.name in SHARED_FIELDS:
            SHARED_FIELDS[f.name](parser, f.default)
        elif "cli" in f.metadata:
            _add_option(parser, f, hints[f.name], prefix)


def settings_from(args: argparse.Namespace, cls: type, *, prefix: str = "", **fixed: Any):
    """The settings ``cls`` the command line asked for: the options given (and ``fixed``
    values) through the same checked converter as a config's table."""
    return from_table(cls, {**given(args, cls, prefix=prefix), **fixed}, "command line")


def given(args: argparse.Namespace, cls: type, *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` the command line set, as a config table."""
    table = {}
    for f in dataclasses.fields(cls):
        dest = _dest(prefix, f.name)
        if ("cli" in f.metadata or f.name in SHARED_FIELDS) and hasattr(args, dest):
            table[f.name] = getattr(args, dest)
    return table


def _dest(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def _flag(prefix: str, name: str) -> str:
    return "--" + _dest(prefix, name).replace("_", "-")


def _add_option(
    parser: argparse.ArgumentParser, f: dataclasses.Field, hint: Any, prefix: str
) -> None:
    cli = f.metadata["cli"]
    names = [_flag(prefix, n) for n in (f.name, *cli["aliases"])]
    keywords: dict[str, Any] = {"dest": _dest(prefix, f.name), "default": argparse.SUPPRESS}
    if hint is bool:  # a switch away from the default: --name, or --no-name
        if f.default:
            names = ["--no-" + name.removeprefix("--") for name in names]
        action = "store_false" if f.default else "store_true"
        parser.add_argument(
            *names, action=action, help=_switch_help(cli["help"], f.default), **keywords
        )
        return
    choices = cli["choices"]() if callable(cli["choices"]) else cli["choices"]
    keywords.update(_typed(hint))
    if choices is not None:
        keywords["type"] = one_of(choices, cli["noun"])
        keywords["metavar"] = "{" + ",".join(choices) + "}"
    if cli["metavar"]:
        keywords["metavar"] = cli["metavar"]
    parser.add_argument(*names, help=_with_default(cli["help"], f.default, choices), **keywords)


def _typed(hint: Any) -> dict[str, Any]:
    """argparse's nargs and type for a field's annotation."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # X | None: the option gives an X
        (hint,) = [a for a in args if a is not type(None)]
        return _typed(hint)
    if origin is tuple:
        return {"nargs": "+", **_typed(args[0])}
    return {"type": hint} if hint in (int, float, str) else {}


def _switch_help(text: str, default: bool) -> str:
    return (f"skip {text}" if default else text).replace("%", "%%")


def _with_default(text: str, default: Any, choices: Any) -> str:
    """``text`` with the default in place of its ``%(default)s``, or after it unless the
    text says the default in its own words."""
    if re.search(r"\bdefault\b", text) and "%(default)s" not in text:
        return text.replace("%", "%%")  # argparse %-formats help
    if isinstance(choices, Mapping):  # the names of the default's values
        values = default if isinstance(default, tuple) else (default,)
        default = tuple(n for n, v in choices.items() if v in values)
    if isinstance(default, tuple | list):
        said = " ".join(map(_plain_number, default))
    else:
        said = _plain_number(default)
    if "%(default)s" not in text:
        text += " (default %(default)s)"
    return text.replace("%", "%%").replace("%%(default)s", said)


def _plain_number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def one_of(choices: Sequence[str] | Mapping[str, Any], noun: str) -> Callable[[str], Any]:
    """An argument type taking one of ``choices`` (a name's value, for a mapping); an
    unknown one is refused with the close matches."""
    known = tuple(choices)

    def choose(text: str) -> Any:
        if text not in known:
            raise argparse.ArgumentTypeError(unknown_name(noun, text, known))
        return choices[text] if isinstance(choices, Mapping) else text

    return choose


# --- options several commands share ---------------------------------------------------------


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


# Fields that a shared option stands for: add_settings adds that option (the field's
# default its default), so it is spelt and explained alike in every command.
SHARED_FIELDS: dict[str, Callable[[argparse.ArgumentParser, Any], None]] = {"model": add_model_args}


def load_model_arg(args: argparse.Namespace, device: str = "auto"):
    """The model --model, --arch and --classes name (a LoadedModel)."""
    from explainlab.models import load_model

    return load_model(args.model, device, arch=args.arch, classes=args.classes)


def add_images_arg(
    parser: argparse.ArgumentParser, said: str = "mission", *, max_pixels: bool = True
) -> None:
    """--images (``said``: what none means) and --max-pixels."""
    parser.add_argument(
        "--images",
        nargs="+",
        metavar="SRC",
        default=None,
        help="'mission' (the ten images), mission keys such as 'goldfish', image files or "
        f"folders (default {said})",
    )
    if max_pixels:
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


def add_out_arg(
    parser: argparse.ArgumentParser,
    default: str | None = "results/default",
    help: str | None = None,
) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=None if default is None else Path(default),
        help=help or f"run folder (default {default})",
    )


def add_run_arg(
    parser: argparse.ArgumentParser, default: str | None, about: str = "run folder"
) -> None:
    """--run: the run folder a command reads."""
    parser.add_argument(
        "--run",
        type=Path,
        default=None if default is None else Path(default),
        help=about if default is None else f"{about} (default {default})",
    )


def add_force_arg(parser: argparse.ArgumentParser, help: str = FORCE_HELP) -> None:
    parser.add_argument("--force", action="store_true", help=help)


def add_seed_arg(parser: argparse.ArgumentParser, default: int, help: str) -> None:
    """--seed where it is no settings field (the settings' seeds are generated)."""
    parser.add_argument("--seed", type=int, default=default, help=f"{help} (default {default})")


def run_image_stage(
    args: argparse.Namespace, run: Callable[..., Any], settings: Any, up_to_date: str
) -> Any:
    """``run`` (an image stage's library function) on the images, model, output folder and
    options the command line gave; says when the stage was already up to date
    (``up_to_date``: on what it was)."""
    from explainlab.images import resolve_sources

    outcome = run(
        settings,
        resolve_sources(args.images),
        args.out,
        model=load_model_arg(args, args.device),
        max_pixels=args.max_pixels,
        force=args.force,
    )
    if outcome.skipped:
        print(f"up to date ({up_to_date}): {outcome.folder}")
    return outcome


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


# What packages add to the command line: whole commands (modules with ``register``), and
# actions of an existing command ("module:function(actions)", by the command's name).
_COMMANDS: list[str] = []
_ACTIONS: dict[str, list[str]] = {}


def register_command(module: str) -> None:
    """Add the subcommands that ``module``'s ``register(subparsers)`` defines."""
    if module not in _COMMANDS:
        _COMMANDS.append(module)


def register_actions(command: str, adder: str) -> None:
    """Add actions to ``command`` (``adder``: "module:function(actions)")."""
    if adder not in _ACTIONS.setdefault(command, []):
        _ACTIONS[command].append(adder)


def package_commands() -> list[str]:
    packages.load()
    return list(_COMMANDS)


def add_package_actions(command: str, actions: argparse._SubParsersAction) -> None:
    """The actions packages add to ``command``, registered on its subparsers."""
    packages.load()
    for adder in _ACTIONS.get(command, []):
        resolve_path(adder)(actions)
