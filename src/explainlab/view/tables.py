"""CSV tables as the page reads them: columns, rows of numbers and text, a cap on rows."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

MAX_ROWS = 2000  # more rows than anyone sorts in a browser; the file has them all
DIGITS = 6  # significant digits kept of a float (the tables' own files keep all)


def cell(text: str) -> Any:
    """A CSV field as a number where it is one (None for empty and NaN), else the text."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return float(f"{value:.{DIGITS}g}")


def read_table(path: Path, *, title: str, ident: str, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """``path`` as ``{id, title, file, columns, rows, total}`` (``rows`` capped at ``max_rows``)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        columns = next(reader, [])
        rows, total = [], 0
        for row in reader:
            total += 1
            if len(rows) < max_rows:
                rows.append([cell(x) for x in row])
    return {
        "id": ident,
        "title": title,
        "file": path.name,
        "columns": columns,
        "rows": rows,
        "total": total,
    }


def rows_of(path: Path) -> list[dict[str, Any]]:
    """A small CSV as records, numbers converted."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: cell(v) for k, v in row.items()} for row in csv.DictReader(f)]
