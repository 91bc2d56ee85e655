"""Resolve a layer of a model from its name, without ``eval``.

Names are dotted module paths with optional indices: ``layer4[-1]``, ``layer4.1``,
``blocks[6][0]``, ``bn2``, ``fc``. Indices may be negative."""

from __future__ import annotations

import re

from torch import nn

from explainlab.errors import UnknownNameError

_TOKEN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*|-?\d+)(?P<idx>(\[-?\d+\])*)$")


def _parts(name: str) -> list[str]:
    parts: list[str] = []
    for token in name.strip().split("."):
        match = _TOKEN.match(token)
        if not match:
            raise UnknownNameError(
                f"layer name {name!r} is malformed at {token!r}",
                hint="use a dotted module path such as 'layer4[-1]', 'layer4.1' or 'fc'",
            )
        parts.append(match["name"])
        parts.extend(re.findall(r"-?\d+", match["idx"]))
    return parts


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule of ``model`` called ``name`` (see module docstring)."""
    module = model
    walked: list[str] = []
    for part in _parts(name):
        children = dict(module.named_children())
        if part.lstrip("-").isdigit() and part not in children:
            keys = list(children)
            index = int(part)
            if not keys or not -len(keys) <= index < len(keys):
                raise UnknownNameError(
                    f"layer {name!r}: index {index} is out of range at "
                    f"{'.'.join(walked) or 'the model'} ({len(keys)} children)",
                    hint=f"children there: {', '.join(keys) or 'none'}",
                )
            part = keys[index]
        if part not in children:
            raise UnknownNameError(
                f"layer {name!r}: {'.'.join(walked) or 'the model'} has no child {part!r}",
                hint=f"children there: {', '.join(children) or 'none'}",
            )
        module = children[part]
        walked.append(part)
    return module


def canonical_layer_name(model: nn.Module, name: str) -> str:
    """The ``named_modules`` name of the layer ``name`` (``layer4[-1]`` -> ``layer4.2``)."""
    target = resolve_layer(model, name)
    for full, module in model.named_modules():
        if module is target:
            return full
    raise UnknownNameError(f"layer {name!r} not found among the model's modules")
