"""The registry of explanation methods: each method is one module of this package that
declares a :class:`MethodSpec` with :func:`register`. Everything that names a method
(computation, cost estimates, figures, colours, the comparison, report text, CLI choices,
config validation) reads it from here.

Like :mod:`explainlab.stages`, this module and the method modules' declarations import
no torch: the computations are named as ``"module:function"`` (or given as callables,
as a test's toy method does) and imported only when a method runs.

A CAM method is computed (:func:`explainlab.cam.methods.cam_map`) by, in this order:
its ``compute`` (our own method: nothing else computes it), its ``fast`` variant (unless
the library's is asked for), else its ``reference`` class of pytorch-grad-cam, built by
``build``. ``compute`` and ``fast`` are called as ``fn(model, layer, x, target, **options)``
with those of the options ``batch_size``, ``notes``, ``bf16`` and ``reshape`` that they
name as parameters, and return the (H, W) float32 map in [0, 1]."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from explainlab import packages
from explainlab.errors import unknown_name
from explainlab.stages import resolve_path

KINDS: tuple[str, ...] = ("cam", "gradient", "perturbation", "surrogate")
OURS = "ours"  # the reference of a method that no library implements
_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")


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
    colour: str  # its colour in every figure ("#rrggbb", no other method's)
    kind: str  # one of KINDS
    layer: bool  # whether it needs a target layer
    # (target layer's channels, impl) -> the passes one image costs
    passes: Callable[[int, str], Passes]
    # what it must equal: "library:Class" (attributes dotted after the colon), or OURS
    reference: str
    fast: str | Callable[..., Any] | None = None  # our exact fast variant, where there is one
    compute: str | Callable[..., Any] | None = None  # our own method's computation
    # builds the reference's object: fn(cls, model, layer, *, batch_size, reshape) ->
    # (object, context manager restoring what it changes); None: cls(model, [layer],
    # reshape_transform=reshape) and nothing to restore
    build: str | Callable[..., Any] | None = None
    about: str = ""  # one line: how it works (report text, --help)
    # The clause after its title in report text on its cost ("runs ... once per channel");
    # ``{channels}`` there is " (N)", the target layer's channels, or "" when unknown.
    # cost_text is what impl "fast" runs (the fast variant, or the only implementation),
    # library_cost_text what the library runs where that costs otherwise. The report lists
    # the clauses after a first that says "runs"; the built-in ones after Grad-CAM's leave
    # the verb out ("AblationCAM the layers after the target once per channel").
    cost_text: str = ""
    library_cost_text: str = ""
    order: int = 100  # where listings put it (lower first; then by name)
    baseline: bool = False  # a reference point (random weights), never run by default

    def cheap(self) -> bool:
        """At most one forward and one backward pass per image whatever the target layer's
        width, by the reference implementation too (our AblationCAM runs the layers above
        the target once per channel: about one pass on a ResNet's last block, far more on
        an earlier layer)."""
        narrow, wide = self.passes(1, "library"), self.passes(4096, "library")
        return narrow == wide and narrow.forward <= 1 and narrow.backward <= 1

    def load(self, attribute: str = "compute") -> Callable[..., Any]:
        target = getattr(self, attribute)
        if target is None or target == OURS:
            raise ValueError(f"method {self.name!r} has no {attribute}")
        return resolve_path(target) if isinstance(target, str) else target

    def cost_clause(self, channels: int | None, impl: str) -> str:
        """``cost_text`` (``library_cost_text`` for the library's, where given) filled in."""
        text = self.cost_text
        if impl != "fast" and self.library_cost_text:
            text = self.library_cost_text
        return text.format(channels=f" ({channels})" if channels else "")


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def _check(spec: MethodSpec) -> None:
    if spec.name != spec.name.lower() or not spec.name.isidentifier():
        raise ValueError(f"method name {spec.name!r} must be a lower-case identifier")
    if spec.kind not in KINDS:
        raise ValueError(f"method {spec.name!r}: kind must be one of {', '.join(KINDS)}")
    if not spec.title or not spec.cost_text:
        raise ValueError(f"method {spec.name!r}: title and cost_text must be given")
    if not _HEX_COLOUR.fullmatch(spec.colour):
        raise ValueError(f"method {spec.name!r}: colour must be '#rrggbb', not {spec.colour!r}")
    same = [m.name for m in _REGISTRY.values() if m.name != spec.name]
    same = [n for n in same if _REGISTRY[n].colour.lower() == spec.colour.lower()]
    if same:
        raise ValueError(f"method {spec.name!r}: colour {spec.colour} is {same[0]}'s already")


def register(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry (a method module calls this at import; a test may too)."""
    _check(spec)
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
    packages.import_modules("explainlab.methods")
    _LOADED = True


def methods(kind: str | None = None) -> tuple[MethodSpec, ...]:
    """Every registered method (of ``kind``), by ``order`` then name."""
    _load_builtin()
    listed = sorted(_REGISTRY.values(), key=lambda m: (m.order, m.name))
    return tuple(m for m in listed if kind is None or m.kind == kind)


def method_names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(m.name for m in methods(kind))


def default_methods() -> tuple[str, ...]:
    """What runs when no method is named: every cheap method (one forward and one backward
    pass) but the baselines. The costly ones (ScoreCAM, AblationCAM, Occlusion,
    KernelSHAP, RISE, LIME, ...) are asked for by name."""
    return tuple(m.name for m in methods() if m.cheap() and not m.baseline)


def _kind_word(kind: str | None) -> str:
    return "" if kind is None else ("CAM " if kind == "cam" else f"{kind} ")


def unknown_method_message(
    name: str, known: tuple[str, ...] | None = None, kind: str | None = None
) -> str:
    """ "unknown CAM method 'gradcma' (did you mean gradcam?); known: ..." """
    known = method_names(kind) if known is None else known
    return unknown_name(f"{_kind_word(kind)}method", name, known)


def get_method(name: str, kind: str | None = None) -> MethodSpec:
    """The registered method ``name`` (of ``kind``); a ``ValueError`` naming the close
    matches otherwise (never another method)."""
    _load_builtin()
    spec = _REGISTRY.get(name)
    if spec is not None and kind is not None and spec.kind != kind:
        raise ValueError(
            f"{name!r} is a {spec.kind} method, not a {_kind_word(kind)}method; "
            f"known: {', '.join(method_names(kind))}"
        )
    if spec is None:
        raise ValueError(unknown_method_message(name, kind=kind))
    return spec


def check_methods(names: Iterable[str], kind: str | None = None) -> None:
    """Raise ``ValueError`` for the first name that is not a registered method (of ``kind``)."""
    for name in names:
        get_method(name, kind)


def title_of(name: str) -> str:
    """A method's title; a name that is no method (a table's "random" order) as it is."""
    _load_builtin()
    spec = _REGISTRY.get(name)
    return spec.title if spec is not None else name


def colour_of(name: str) -> str | None:
    """A method's colour; None (the plot's default) for a name that is no method."""
    _load_builtin()
    spec = _REGISTRY.get(name)
    return spec.colour if spec is not None else None
