"""The registry of explanation methods: each method is one module of this package that
declares a :class:`MethodSpec` with :func:`register`. Everything that names a method
(computation, cost estimates, figures, colours, the comparison, report text, CLI choices,
config validation) reads it from here.

Like :mod:`explainlab.stages`, this module and the method modules' declarations import
no torch: the computations are named as ``"module:function"`` (or given as callables,
as a test's toy method does) and imported only when a method runs."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

KINDS: tuple[str, ...] = ("cam", "gradient", "perturbation", "surrogate")


@dataclass(frozen=True)
class Passes:
    """A method's cost for one image: model forward and backward passes (of one image)."""

    forward: int
    backward: int = 0

    def forward_equivalents(self) -> int:
        """Forward passes a backward pass costs about two of (its two matrix products)."""
        return self.forward + 2 * self.backward


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    name: str  # as configs, the CLI and the run folder's files name it (lower case)
    title: str  # as figures and reports print it
    colour: str  # its colour in every figure (hex)
    kind: str  # one of KINDS
    layer: bool  # whether it needs a target layer
    # (target layer's channels, impl) -> the passes one image costs
    passes: Callable[[int, str], Passes]
    reference: str  # what it must equal: "library:Class" (or "ours" for our own method)
    fast: str | None = None  # "module:function" of our exact fast variant, where there is one
    compute: str | Callable[..., Any] | None = None  # "module:function" or callable
    about: str = ""  # one line: how it works (report text, --help)
    cost_text: str = ""  # one clause on its cost, for report text ("... once per channel")
    order: int = 100  # where listings put it (lower first; then by name)

    def load(self, attribute: str = "compute") -> Callable[..., Any]:
        target = getattr(self, attribute)
        if target is None:
            raise ValueError(f"method {self.name!r} has no {attribute}")
        return _resolve(target) if isinstance(target, str) else target


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def register(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry (a method module calls this at import; a test may too)."""
    if spec.kind not in KINDS:
        raise ValueError(f"method {spec.name!r}: kind must be one of {', '.join(KINDS)}")
    if spec.name != spec.name.lower() or not spec.name.isidentifier():
        raise ValueError(f"method name {spec.name!r} must be a lower-case identifier")
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec:
        raise ValueError(f"method {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a method (a test's toy method, when the test ends)."""
    _REGISTRY.pop(name, None)


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    import explainlab.methods as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name != "registry":
            importlib.import_module(f"{package.__name__}.{info.name}")
    _LOADED = True


def methods(kind: str | None = None) -> tuple[MethodSpec, ...]:
    """Every registered method (of ``kind``), by ``order`` then name."""
    _load_builtin()
    listed = sorted(_REGISTRY.values(), key=lambda m: (m.order, m.name))
    return tuple(m for m in listed if kind is None or m.kind == kind)


def method_names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(m.name for m in methods(kind))


def unknown_method_message(name: str, known: tuple[str, ...] | None = None) -> str:
    known = method_names() if known is None else known
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown method {name!r}{hint}; known: {', '.join(known)}"


def get_method(name: str, kind: str | None = None) -> MethodSpec:
    """The registered method ``name``; a ``ValueError`` naming the close matches otherwise
    (never another method)."""
    _load_builtin()
    spec = _REGISTRY.get(name)
    if spec is None or (kind is not None and spec.kind != kind):
        raise ValueError(unknown_method_message(name, method_names(kind)))
    return spec


def check_methods(names: Iterator[str] | tuple[str, ...] | list[str], kind: str | None = None) -> None:
    """Raise ``ValueError`` for the first name that is not a registered method (of ``kind``)."""
    for name in names:
        get_method(name, kind)
