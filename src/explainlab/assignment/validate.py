"""``explainlab lime validate``: check a parameter pickle without trusting it.

Order: (1) read the opcodes and refuse, without loading, a pickle that references anything
outside the allow-list; (2) load it with the restricted unpickler; (3) check the structure
(a dict, exactly the ten keys, exact case) and every parameter of every image against
the grader's explain_instance as the assignment prints it; (4) run lime's own
explain_instance with each image's parameters on a small test image and a trivial
classifier, to prove they run. Every problem is collected; nothing stops at the first.
What the installed lime lacks (``progress_bar``) is reported apart, as notes: it is
accepted, and dropped from the dry run.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from lime.lime_image import LimeImageExplainer

from explainlab.assignment import safepickle
from explainlab.errors import InputError
from explainlab.images import MISSION_KEYS
from explainlab.lime.params import (
    MODEL_CLASSES,
    Problem,
    check_params,
    errors,
    lacking_here,
    lime_version,
    local_params,
    notes,
    show,
)

DRY_RUN_SIZE = 48
DRY_RUN_MAX_SAMPLES = 5000


def check_structure(obj: Any, where: str) -> list[Problem]:
    """A dict with exactly the ten mission keys (exact case), each a dict of valid parameters."""
    if not isinstance(obj, Mapping):
        return [
            Problem(
                where,
                f"the pickle holds a {type(obj).__name__}, not a dict of the ten image keys",
            )
        ]
    problems: list[Problem] = []
    keys = list(obj)
    missing = [k for k in MISSION_KEYS if k not in obj]
    extra = [k for k in keys if k not in MISSION_KEYS]
    if len(keys) != len(MISSION_KEYS):
        problems.append(
            Problem(where, f"{len(keys)} keys; exactly {len(MISSION_KEYS)} are expected")
        )
    for key in extra:
        problems.append(Problem(where, f"unexpected key {show(key)}{_suggest(key, missing)}"))
    for key in missing:
        problems.append(Problem(where, f"missing key {key!r}"))
    if not missing and not extra and keys != list(MISSION_KEYS):
        problems.append(
            Problem(
                where,
                "the keys are not in DESIGN.md's order (" + ", ".join(MISSION_KEYS) + ")",
                "warning",
            )
        )
    for key, value in obj.items():
        if key in MISSION_KEYS:
            problems.extend(check_params(value, f"{where}: {key}"))
    return problems


def _suggest(key: Any, missing: list[str]) -> str:
    if not isinstance(key, str):
        return " (keys must be strings)"
    for candidate in missing:
        if candidate.lower() == key.lower():
            return f" (wrong case: the key is {candidate!r})"
    close = difflib.get_close_matches(key, missing, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def dry_run_image(size: int = DRY_RUN_SIZE, seed: int = 0) -> np.ndarray:
    """A small uint8 test image: four coloured quadrants with some noise."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.float64)
    half = size // 2
    for (row, col), colour in zip(
        ((0, 0), (0, 1), (1, 0), (1, 1)),
        ((200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 220, 60)),
        strict=True,
    ):
        image[row * half : (row + 1) * half, col * half : (col + 1) * half] = colour
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


class TrivialClassifier:
    """Softmax of a fixed linear map of the mean colour: cheap, deterministic, any class count."""

    def __init__(self, classes: int) -> None:
        self.weights = np.random.default_rng(0).normal(size=(3, classes))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        mean = np.asarray(images, np.float64).mean(axis=(1, 2)) / 255.0
        logits = mean @ self.weights
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def dry_run(params: Mapping[str, Any], where: str) -> list[Problem]:
    """Run lime's own explain_instance with ``params`` on a test image; report failures
    and the warnings it raised. What the installed lime lacks is left out."""
    params = local_params(params)
    problems: list[Problem] = []
    if params.get("num_samples", 0) > DRY_RUN_MAX_SAMPLES:
        params["num_samples"] = DRY_RUN_MAX_SAMPLES
        problems.append(
            Problem(where, f"the dry run used {DRY_RUN_MAX_SAMPLES} samples only", "warning")
        )
    explainer = LimeImageExplainer(random_state=0)
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("always")
        try:
            explainer.explain_instance(dry_run_image(), TrivialClassifier(MODEL_CLASSES), **params)
        except Exception as exc:  # any failure of lime with these parameters is the finding
            problems.append(
                Problem(
                    where,
                    f"explain_instance failed with these parameters on a "
                    f"{DRY_RUN_SIZE}x{DRY_RUN_SIZE} test image: {type(exc).__name__}: {exc}",
                )
            )
    for message in dict.fromkeys(str(w.message).splitlines()[0] for w in caught):
        problems.append(Problem(where, f"the dry run warned: {message}", "warning"))
    return problems


def validate_object(obj: Any, where: str, *, run: bool = True) -> list[Problem]:
    problems = check_structure(obj, where)
    if run and isinstance(obj, Mapping):
        bad = {(p.where, p.param) for p in errors(problems)}
        for key in MISSION_KEYS:
            value = obj.get(key)
            at = f"{where}: {key}"
            if isinstance(value, Mapping) and not any(w == at for w, _ in bad):
                problems.extend(dry_run(value, at))
    return problems


def validate_file(path: str | Path, *, run: bool = True) -> tuple[Any, list[Problem]]:
    """(the loaded object or None, every problem found). Never executes code from the file."""
    path = Path(path)
    where = str(path)
    try:
        data = safepickle.read_untrusted(path)
    except InputError as exc:
        return None, [Problem(where, exc.message.removeprefix(f"{where}: "))]
    try:
        bad = safepickle.forbidden_globals(data)
    except InputError as exc:
        return None, [Problem(where, exc.message)]
    if bad:
        return None, [
            Problem(
                where,
                f"refused without loading it: references {safepickle.describe_global(*g)}, "
                "which is outside the allow-list (builtins, numpy, lime's "
                "SegmentationAlgorithm, scikit-learn linear regressors)",
            )
            for g in bad
        ]
    try:
        obj = safepickle.loads_untrusted(data, where)
    except InputError as exc:
        return None, [Problem(where, exc.message)]
    return obj, _numpy_2_only(data, where) + validate_object(obj, where, run=run)


def _numpy_2_only(data: bytes, where: str) -> list[Problem]:
    names = sorted(
        {f"{m}.{n}" for m, n in safepickle.numpy_globals(data) if m.startswith("numpy._core")}
    )
    if not names:
        return []
    return [
        Problem(
            where,
            f"holds numpy objects ({', '.join(names)}): a pickle written under numpy 2 does not "
            "load under numpy 1, which the grader may run; re-export it with 'explainlab lime "
            "export' (builtins only)",
            "warning",
        )
    ]


def report_lines(path: Path, problems: list[Problem]) -> list[str]:
    """Errors and warnings, then apart what the installed lime lacks, then the verdict."""
    found, lacking = errors(problems), notes(problems)
    lines = [str(p) for p in problems if p.severity != "note"]
    if lacking:
        lines.append(
            f"\nthe grader's explain_instance (as the assignment prints it) takes "
            f"{', '.join(lacking_here())}; lime {lime_version()} installed here does not, so "
            "local runs drop it:"
        )
        lines.extend(f"  {p}" for p in lacking)
    warned = len(problems) - len(found) - len(lacking)
    if found:
        lines.append(f"\n{path}: INVALID ({len(found)} error(s), {warned} warning(s))")
    else:
        lines.append(f"{path}: valid ({warned} warning(s))")
    return lines
