"""The parameter pickle (deliverable 4): one dict of explain_instance arguments per mission
image, exactly the ten keys in the order of DESIGN.md, and its readable JSON twin.

It holds builtins only, besides the lime / scikit-learn objects a parameter really needs
(:func:`explainlab.lime.params.portable`): never numpy scalars or arrays, since a pickle
written under numpy 2 names ``numpy._core``, which numpy 1 cannot import. Arguments the
grader's lime takes and the installed one lacks (``progress_bar``) are kept when set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab import runfolder
from explainlab.assignment import safepickle
from explainlab.images import MISSION_KEYS
from explainlab.lime.params import ParamFile, portable, to_readable


@dataclass
class Export:
    pickle_path: Path
    json_path: Path
    params: dict[str, dict[str, Any]]  # object form, the ten keys in order
    notes: list[str] = field(default_factory=list)


def mission_params(param_file: ParamFile, *, seed: int | None) -> dict[str, dict[str, Any]]:
    """Every explain_instance argument for each of the ten keys, in DESIGN.md's order.
    ``seed`` fills random_seed where the file leaves it None (as our runs do). Portable:
    builtins, not numpy (see the module docstring)."""
    return {
        key: portable(param_file.params_for(key, seed=seed, newest=True)[0]) for key in MISSION_KEYS
    }


def write_export(param_file: ParamFile, path: Path, *, seed: int | None = 0) -> Export:
    """Write ``path`` (pickle) and ``path`` with suffix .json (readable twin), atomically."""
    path = Path(path)
    params = mission_params(param_file, seed=seed)
    notes = []
    ignored = [k for k in param_file.images if k not in MISSION_KEYS]
    if ignored:
        notes.append(f"tables for non-mission images are not exported: {', '.join(ignored)}")
    if any("mask_num_features" in param_file.readable_for(k) for k in MISSION_KEYS):
        notes.append(
            "mask_num_features is not an explain_instance argument: it is used by our runs "
            "and the scoreboard but is not in the pickle"
        )
    data = safepickle.dumps(params)
    with runfolder.atomic_path(path) as tmp:
        tmp.write_bytes(data)
    json_path = path.with_suffix(".json")
    runfolder.write_json(json_path, {k: to_readable(v) for k, v in params.items()})
    return Export(path, json_path, params, notes)


def write_run_pickle(param_file: ParamFile, folder: Path, seed: int) -> None:
    """The lime stage's pickle, ``<run>/lime/params.pkl`` (and its twin), as it finishes."""
    write_export(param_file, folder / "params.pkl", seed=seed)
