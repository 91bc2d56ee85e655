"""The assignment's section of the viewer's Run page: the LIME parameter pickle of the
run (``lime/params.pkl``, the ten parameter sets), read with the safe unpickler and
shown in its readable form, one row per image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from explainlab.assignment.safepickle import load_untrusted
from explainlab.errors import InputError
from explainlab.lime.params.readable import to_readable
from explainlab.stages import stage_dir

PICKLE = "params.pkl"


def _text(value: Any) -> Any:
    """A parameter as a table cell: numbers and text as they are, the rest as JSON-like text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def lime_pickle_section(run_dir: Path) -> dict[str, Any] | None:
    path = stage_dir(run_dir, "lime") / PICKLE
    if not path.is_file():
        return None
    try:
        params = load_untrusted(path)
    except InputError as exc:
        return {"title": "LIME parameter pickle", "note": f"not shown: {exc}"}
    readable = {str(image): to_readable(p) for image, p in params.items()}
    columns = list(dict.fromkeys(name for p in readable.values() for name in p))
    return {
        "title": "LIME parameter pickle",
        "note": f"{path.relative_to(run_dir)}: {len(readable)} parameter sets, read with the "
        "safe unpickler (allow-listed classes only)",
        "tables": [
            {
                "id": "lime/params.pkl",
                "title": "parameter sets",
                "columns": ["image", *columns],
                "rows": [
                    [image, *(_text(p.get(c)) for c in columns)] for image, p in readable.items()
                ],
            }
        ],
    }
