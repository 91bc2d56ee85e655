"""Public submissions of the assignment's LIME task and the scores the real grader gave
them (shipped as package data: ``explainlab/assignment/data/public_submissions.json``, with
its README naming the sources). Each holds a team's parameters in readable form (a
``defaults`` table and per-image overrides) and the grader's average IoU and time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from explainlab.errors import ConfigError
from explainlab.lime.params import DEFAULTS_TABLE, ParamFile, errors


@dataclass(frozen=True, kw_only=True)
class Submission:
    name: str  # the team's public repository
    server_iou: float  # the grader's average IoU
    server_seconds: float  # the grader's average time per image
    params: ParamFile
    note: str = ""


def shipped_submissions() -> Path:
    return Path(str(resources.files("explainlab.assignment") / "data" / "public_submissions.json"))


def load_submissions(path: str | Path = "", only: Sequence[str] = ()) -> list[Submission]:
    """The submissions of ``path`` ('' the shipped public scoreboard), those named in
    ``only`` (repository names) if given. Every entry is checked; problems are reported
    together, naming the entry."""
    path = Path(path) if path else shipped_submissions()
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["submissions"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a submissions file ({exc})",
            hint='expected {"submissions": [{"repository", "server_avg_iou", '
            '"server_avg_time_s", "params"}, ...]}',
        ) from None
    unknown = sorted(set(only) - {e.get("repository") for e in entries})
    if unknown:
        raise ConfigError(
            f"{path}: no submission {', '.join(unknown)}",
            hint="known: " + ", ".join(str(e.get("repository")) for e in entries),
        )
    submissions, problems = [], []
    for entry in entries:
        if only and entry.get("repository") not in only:
            continue
        try:
            submissions.append(_submission(entry, path))
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            problems.append(f"{entry.get('repository', '?')}: {exc}")
    if problems:
        raise ConfigError(
            f"{path}: {len(problems)} bad submission(s):\n  - " + "\n  - ".join(problems)
        )
    return submissions


def _submission(entry: dict, path: Path) -> Submission:
    name = str(entry["repository"])
    tables = dict(entry["params"])
    defaults = dict(tables.pop(DEFAULTS_TABLE, {}))
    params = ParamFile(defaults, {k: dict(v) for k, v in tables.items()}, f"{path}: {name}")
    found = errors(params.problems())
    if found:
        raise ConfigError("; ".join(map(str, found)))
    return Submission(
        name=name,
        server_iou=float(entry["server_avg_iou"]),
        server_seconds=float(entry["server_avg_time_s"]),
        params=params,
        note=str(entry.get("note", "")),
    )
