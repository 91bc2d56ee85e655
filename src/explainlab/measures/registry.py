"""The registry of measures: each measure is one function, declared with :func:`measure`
in the module of its family (:mod:`~explainlab.measures.agreement`: a CAM against LIME's
mask and weights; :mod:`~explainlab.measures.faithfulness`: one map against the model;
:mod:`~explainlab.measures.sanity`: a map against the map of a randomised model;
:mod:`~explainlab.measures.pair`: two methods' maps of one image). The
comparison's tables, summary, figures and report 4 iterate it.

Like :mod:`explainlab.methods.registry`, this module imports neither torch nor numpy;
the families import numpy (never torch), and a family is loaded when the registry is
first listed."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from explainlab import packages
from explainlab.errors import unknown_name

# What a measure compares: the inputs its compute function takes.
COMPARES: dict[str, str] = {
    "map-mask": "a CAM map against LIME's mask and superpixel weights (MapMask)",
    "map": "one map against the model: its deletion and insertion curves by kind",
    "sanity": "a map against the same method's map of a (partly) randomised model",
    "pair": "two maps of the same image, any two methods (MapPair)",
    # the batched kinds: each returns one value per image (an array of N)
    "model": "maps against the model on their inputs (batch.ModelBatch)",
    "explainer": "maps against the method re-run on other inputs or classes (ModelBatch.explain)",
    "map-only": "maps (N, H, W) alone",
    "map-region": "maps (N, H, W) against ground-truth regions (N, H, W) of booleans",
}
# Which values are better, in the words and arrows the tables print.
DIRECTIONS: dict[str, str] = {
    "higher": "higher is better",
    "lower": "lower is better",
    "neither": "",
}
ARROWS: dict[str, str] = {"higher": "↑", "lower": "↓", "neither": ""}
# Where report 4 and summary.txt show an agreement (or pair) measure: in the table of means
# and the table per image, in the table of means only, or in agreement.csv only.
TABLES = ("image", "mean", "none")


@dataclass(frozen=True, kw_only=True)
class MeasureSpec:
    name: str  # its name in the tables (agreement.csv's measure, a column elsewhere)
    title: str  # what it is, as figures print it ("area-matched IoU")
    compares: str  # one of COMPARES
    direction: str  # one of DIRECTIONS
    range: tuple[float, float]  # every value lies in [low, high] (NaN: not defined)
    reference: str  # what it equals: "library:function", or "ours" (checked on known answers)
    test: str  # the test that checks it against that reference: "tests/file.py::test_name"
    compute: Callable[..., float]  # the function (its inputs: see COMPARES)
    about: str = ""  # one line: what it measures (default: the function's docstring)
    # report 4's table header (default: title); "{threshold:g}" in it: the run's fixed CAM
    # threshold (:meth:`heading`)
    label: str = ""
    short: str = ""  # summary.txt's header, ASCII (default: label)
    chance: str | None = None  # the measure giving its chance level, shown right after it
    tables: str = "image"  # one of TABLES (agreement measures)
    text_width: int = 0  # its column's width in summary.txt (default: one more than short)
    width_cm: float = 2.4  # its column's width in report 4's table per image, at most
    text_format: str = ".2f"  # how summary.txt prints a value where formats differ by measure
    image_format: str = ".2f"  # how one image's value prints (a 0/1 measure: ".0f")
    plot_floor: float | None = None  # the lowest a figure's axis starts at (default: range)

    def __post_init__(self) -> None:
        about = self.about or (inspect.getdoc(self.compute) or "").split("\n\n")[0]
        object.__setattr__(self, "about", " ".join(about.split()))
        object.__setattr__(self, "label", self.label or self.title)
        object.__setattr__(self, "short", self.short or self.label)
        object.__setattr__(self, "text_width", self.text_width or len(self.short) + 1)

    def heading(self, threshold: float) -> str:
        """The label, with the run's fixed CAM ``threshold`` where it names one."""
        return self.label.format(threshold=threshold)

    @property
    def better(self) -> str:
        """ "lower is better" (empty for a measure that is neither)."""
        return DIRECTIONS[self.direction]

    @property
    def arrow(self) -> str:
        return ARROWS[self.direction]

    def beats(self, value: float, other: float) -> bool:
        """Whether ``value`` is better than ``other`` (never, for a measure that is neither)."""
        if self.direction == "higher":
            return value > other
        return value < other if self.direction == "lower" else False


_REGISTRY: dict[str, MeasureSpec] = {}
_LOADED = False
F = TypeVar("F", bound=Callable[..., float])


def register(spec: MeasureSpec) -> MeasureSpec:
    """Add ``spec`` to the registry (a family declares its measures with :func:`measure`;
    a test may register a toy one, after the built-in ones)."""
    _load_builtin()
    for field, allowed in (
        ("compares", COMPARES),
        ("direction", DIRECTIONS),
        ("tables", TABLES),
    ):
        if getattr(spec, field) not in allowed:
            raise ValueError(f"measure {spec.name!r}: {field} must be one of {', '.join(allowed)}")
    if spec.name != spec.name.lower() or not spec.name.isidentifier():
        raise ValueError(f"measure name {spec.name!r} must be a lower-case identifier")
    low, high = spec.range
    if not low < high:
        raise ValueError(f"measure {spec.name!r}: range {spec.range} is empty")
    if spec.reference != "ours" and ":" not in spec.reference:
        raise ValueError(f"measure {spec.name!r}: reference must be 'library:function' or 'ours'")
    if "::" not in spec.test:
        raise ValueError(f"measure {spec.name!r}: test must read 'tests/file.py::test_name'")
    old = _REGISTRY.get(spec.name)
    if old is not None and old.compute is not spec.compute:
        raise ValueError(f"measure {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def measure(**fields: Any) -> Callable[[F], F]:
    """Declare the decorated function a measure: ``@measure(name=..., compares=..., ...)``
    with the fields of :class:`MeasureSpec` but ``compute``."""

    def declare(compute: F) -> F:
        register(MeasureSpec(compute=compute, **fields))
        return compute

    return declare


def unregister(name: str) -> None:
    """Remove a measure (a test's toy measure, when the test ends)."""
    _REGISTRY.pop(name, None)


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # first: the families' own registrations come back here
    try:
        packages.import_modules("explainlab.measures")
    except BaseException:
        _LOADED = False
        raise


def measures(compares: str | None = None) -> tuple[MeasureSpec, ...]:
    """Every registered measure (of what it ``compares``), in the order declared: the
    order of the columns and rows of every table."""
    _load_builtin()
    return tuple(s for s in _REGISTRY.values() if compares is None or s.compares == compares)


def measure_names(compares: str | None = None) -> tuple[str, ...]:
    return tuple(s.name for s in measures(compares))


def get_measure(name: str) -> MeasureSpec:
    """The registered measure ``name``; a ``ValueError`` naming the close matches otherwise."""
    _load_builtin()
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ValueError(unknown_name("measure", name, measure_names()))
    return spec


def table_columns(compares: str, level: str = "mean") -> tuple[MeasureSpec, ...]:
    """The measures report 4 and summary.txt show as columns: those shown at ``level``
    ("mean": the table of means; "image": also the table per image), each followed by
    the measure giving its chance level."""
    listed = measures(compares)
    chances = {s.chance for s in listed if s.chance}
    shown = ("image",) if level == "image" else ("image", "mean")
    out: list[MeasureSpec] = []
    for spec in listed:
        if spec.name in chances or spec.tables not in shown:
            continue
        out.append(spec)
        if spec.chance:
            out.append(get_measure(spec.chance))
    return tuple(out)
