"""Report markup: the text of a report's paragraphs and findings, with ``<b>`` and ``<i>``
and the data escaped (reportlab reads a small XML subset). A PDF prints it as it is; a
text summary prints it as markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

_MARKDOWN = {"<b>": "**", "</b>": "**", "<i>": "*", "</i>": "*"}
_TAG = re.compile("|".join(map(re.escape, _MARKDOWN)))


def text(value: object) -> str:
    """Escape a value for report markup."""
    return html.escape(str(value), quote=False)


def markdown(markup: str) -> str:
    """Report markup as markdown: ``**bold**``, ``*italic*``, the data unescaped."""
    return html.unescape(_TAG.sub(lambda m: _MARKDOWN[m.group()], markup))


def num(x: object, spec: str = ".2f") -> str:
    """A number as report text prints it; "n/a" for a missing or non-numeric value."""
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if value != value else format(value, spec)


def pct(x: float, digits: int = 0) -> str:
    return "n/a" if x != x else f"{100 * x:.{digits}f}%"


def join_names(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def pretty_key(key: str) -> str:
    """An image's key as report text names it: ``goldfish_2`` -> "goldfish 2"."""
    return key.replace("_", " ")


def is_true(value: object) -> bool:
    """A correctness value as a run's CSV holds it (bool, 'True', 1) or in memory."""
    return str(value).strip().lower() in ("true", "1", "1.0")
