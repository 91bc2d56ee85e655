"""The registry as a table (``explainlab methods``, the README's list of methods): each
method's kind, reference, cost per image in passes and whether a fast variant exists."""

from __future__ import annotations

from dataclasses import dataclass

from explainlab.methods.registry import OURS, MethodSpec, Passes, methods

# the passes are the reference's; a fast variant that needs fewer says how many
COLUMNS = ("method", "name", "kind", "reference", "passes per image", "fast variant")


def _count(at_zero: int, at_one: int) -> str:
    """``a·C + b`` from a count at C = 0 and C = 1 (a method's passes are linear in the
    layer's channels C)."""
    per, base = at_one - at_zero, at_zero
    if per == 0:
        return str(base)
    channels = "C" if per == 1 else f"{per}C"
    return f"{channels} + {base}" if base else channels


def passes_text(spec: MethodSpec, impl: str = "fast") -> str:
    """ "1 forward + 1 backward", "C forward" (C: the target layer's channels)."""
    zero: Passes = spec.passes(0, impl)
    one: Passes = spec.passes(1, impl)
    text = f"{_count(zero.forward, one.forward)} forward"
    if zero.backward or one.backward:
        text += f" + {_count(zero.backward, one.backward)} backward"
    return text


@dataclass(frozen=True)
class Row:
    title: str
    name: str
    kind: str
    reference: str
    passes: str
    fast: str


def rows() -> list[Row]:
    listed = []
    for spec in methods():
        reference = "ours (no library has it)" if spec.reference == OURS else spec.reference
        ours, library = passes_text(spec, "fast"), passes_text(spec, "library")
        fast = "no" if spec.fast is None else "yes" if ours == library else f"yes ({ours})"
        listed.append(Row(spec.title, spec.name, spec.kind, reference, library, fast))
    return listed


def markdown() -> str:
    """The table in GitHub markdown."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows():
        cells = (row.title, f"`{row.name}`", row.kind, f"`{row.reference}`", row.passes, row.fast)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plain() -> str:
    """The table in aligned columns, for a terminal."""
    table = [COLUMNS, *((r.title, r.name, r.kind, r.reference, r.passes, r.fast) for r in rows())]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    return (
        "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in table
        )
        + "\n"
    )
