"""Malformed input never crashes (a seeded fuzz): parameter files (TOML / JSON: wrong
types, unknown keys, deep nesting, huge numbers, NaN) and pickles (truncated, random
bytes, wrong top-level type, hostile globals) fed to validate, export and score each get
a clear error naming the input, exit status 2, never a traceback, never code executed."""

from __future__ import annotations

import io
import json
import math
import pickle
import pickletools
from pathlib import Path

import numpy as np

from explainlab.assignment.export import write_export
from explainlab.assignment.score import load_candidates
from explainlab.assignment.validate import validate_file
from explainlab.cli import main
from explainlab.errors import ConfigError, InputError
from explainlab.images import MISSION_KEYS
from explainlab.lime.params import LIME_SIGNATURE, ParamFile, errors, load_param_file

SEED = 14
FLIPS = 20
VALUES = [
    None, True, 0, -1, 3, 2**63, 10**30, 1.5, math.nan, math.inf, -math.inf, "", "none",
    "cosine", "slic", [], [1], [[1]], {}, {"algo_type": "slic"}, {"class": "Ridge"},
    {"class": "Ridge", "alpha": "x"}, {"algo_type": "quickshift", "kernel_size": "big"},
    {"class": "Ridge", "fit": 1}, [1, 2, 3, 4], [256, 0, 0], "\x00", "é" * 50,
]  # fmt: skip
NAMES = [*LIME_SIGNATURE, "mask_num_features", "image", "classifier_fn", "num_smaples", ""]


def _random_table(rng: np.random.Generator) -> dict:
    table = {}
    for _ in range(int(rng.integers(1, 6))):
        name = NAMES[int(rng.integers(len(NAMES)))]
        table[name] = VALUES[int(rng.integers(len(VALUES)))]
    return table


def _deep(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def malformed_param_files(rng: np.random.Generator, folder: Path) -> list[Path]:
    """Parameter files, each broken in its own way (a few may turn out valid)."""
    texts: list[tuple[str, str | bytes]] = [
        ("deep.json", '{"defaults": {"labels": ' + _deep(100_000) + "}}"),
        ("deep.toml", "[defaults]\nlabels = " + _deep(5_000) + "\n"),
        ("deep_tables.json", '{"defaults": ' + '{"a": ' * 5000 + "1" + "}" * 5001),
        ("huge.json", '{"defaults": {"num_samples": 1' + "0" * 5000 + "}}"),
        ("huge_float.json", '{"defaults": {"num_samples": 1e999}}'),
        ("nan.json", '{"defaults": {"hide_color": NaN, "num_features": Infinity}}'),
        ("nan.toml", "[defaults]\nhide_color = nan\nnum_samples = inf\n"),
        ("list.json", "[1, 2, 3]"),
        ("scalar.toml", "num_samples = 3\n"),
        ("bytes.json", bytes(rng.integers(0, 256, 300, dtype=np.uint8))),
        ("bytes.toml", bytes(rng.integers(0, 256, 300, dtype=np.uint8))),
        ("latin1.toml", "[defaults]\ndistance_metric = 'caf\xe9'\n".encode("latin-1")),
        ("empty.json", ""),
        ("unknown.toml", "[defaults]\nnum_smaples = 10\nfoo = 'bar'\n[goldfish]\nsegments = 3\n"),
        ("regressor.json", json.dumps({"defaults": {"model_regressor": {"class": "Lasso", "max_iter": 10**12}}})),
    ]  # fmt: skip
    for n in range(40):  # wrong types and unknown keys, at random
        tables = {"defaults": _random_table(rng)}
        for key in rng.choice(MISSION_KEYS, size=int(rng.integers(0, 3)), replace=False):
            tables[str(key)] = _random_table(rng)
        texts.append((f"random_{n}.json", json.dumps(tables)))
    paths = []
    for name, text in texts:
        path = folder / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def test_malformed_parameter_files_are_clear_errors(tmp_path, capsys):
    rng = np.random.default_rng(SEED)
    refused = accepted = 0
    for path in malformed_param_files(rng, tmp_path):
        try:
            param_file = load_param_file(path)
        except ConfigError as exc:  # the one error it may raise, naming the file
            assert str(path) in str(exc), exc
            refused += 1
            status = main(["lime", "export", "--params", str(path), "--out", str(tmp_path / "o")])
            err = capsys.readouterr().err
            assert status == 2 and str(path) in err and "Traceback" not in err, err
            assert main(["lime", "score", str(path), "--out", str(tmp_path / "o")]) == 2
            assert str(path) in capsys.readouterr().err
            continue
        accepted += 1  # by chance a valid file: its export must then validate
        export = write_export(param_file, tmp_path / f"{path.stem}.pkl")
        assert not errors(validate_file(export.pickle_path, run=False)[1]), path
    assert refused >= 40 and accepted <= 10  # the fuzz really is malformed input


class _Reduce:
    """A pickle that calls ``function(*args)`` when loaded."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _hostile(marker: Path) -> list[bytes]:
    import builtins
    import importlib
    import os
    import subprocess

    ten = {key: {"num_samples": 10} for key in MISSION_KEYS}
    attacks = [
        _Reduce(os.system, f"touch {marker}"),
        _Reduce(builtins.exec, f"open({str(marker)!r}, 'w')"),
        _Reduce(builtins.eval, f"open({str(marker)!r}, 'w')"),
        _Reduce(subprocess.Popen, ["touch", str(marker)]),
        _Reduce(importlib.import_module, "os"),
        _Reduce(builtins.bytearray, 10**10),  # 10 GB while loading
    ]
    found = []
    for attack in attacks:
        ten["goldfish"]["segmentation_fn"] = attack
        found.append(pickle.dumps(ten, protocol=int(len(found) % 5) + 1))
    # hand-written: a global name computed at load time, an extension code, INST
    found.append(b"\x80\x04\x8c\x02os\x94\x8c\x06sys" + b"tem\x94\x93\x94.")
    found.append(b"\x80\x02\x82\x01.")
    found.append(b"(S'touch " + str(marker).encode() + b"'\nios\nsystem\n.")
    return found


def malformed_pickles(rng: np.random.Generator, tmp_path: Path, marker: Path) -> list[Path]:
    good = write_export(ParamFile({"num_samples": 20}, {}), tmp_path / "good.pkl")
    data = good.pickle_path.read_bytes()
    blobs: list[bytes] = [
        b"",
        b"\x80",
        *(data[: int(rng.integers(1, len(data)))] for _ in range(15)),  # truncated
        *(bytes(rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8)) for _ in range(15)),
        *(pickle.dumps(v) for v in ([1, 2], 7, "params", None, {1, 2}, (MISSION_KEYS,))),
        pickle.dumps({key: [1, 2] for key in MISSION_KEYS}),
        pickle.dumps({(1, 2): {}, 3.5: None}),
        pickle.dumps({k: {"num_samples": 10**40, "labels": "x" * 10**5} for k in MISSION_KEYS}),
        pickle.dumps({key: {"labels": _nested(200)} for key in MISSION_KEYS}),
        b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b".",  # lists 100,000 deep
        pickle.dumps({key: {"num_samples": np.arange(10**4)} for key in MISSION_KEYS}),
        *_hostile(marker),
    ]  # fmt: skip
    for _ in range(FLIPS):  # bytes flipped in a valid pickle
        flipped = bytearray(data)
        for position in rng.integers(0, len(data), int(rng.integers(1, 4))):
            flipped[position] = int(rng.integers(0, 256))
        blobs.append(bytes(flipped))
    paths = []
    for n, blob in enumerate(blobs):
        path = tmp_path / f"malformed_{n}.pkl"
        path.write_bytes(blob)
        paths.append(path)
    return paths


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


def test_malformed_pickles_are_clear_errors_and_never_run_code(tmp_path, capsys):
    rng = np.random.default_rng(SEED)
    marker = tmp_path / "pwned"
    refused = 0
    paths = malformed_pickles(rng, tmp_path, marker)
    for path in paths:
        _, problems = validate_file(path, run=False)  # never raises
        invalid = bool(errors(problems))
        refused += invalid
        assert all(p.where.startswith(str(path)) for p in problems)
        status = main(["lime", "validate", str(path), "--no-dry-run"])
        out = capsys.readouterr().out
        assert status == (2 if invalid else 0) and str(path) in out
        try:
            load_candidates(path)
        except InputError as exc:
            assert str(path) in str(exc)
            assert main(["lime", "score", str(path), "--out", str(tmp_path / "o")]) == 2
            err = capsys.readouterr().err
            assert str(path) in err and "Traceback" not in err
        assert not marker.exists(), path
    assert refused >= len(paths) - FLIPS  # only a flipped byte may leave a valid pickle


def test_the_fuzzed_pickles_really_are_hostile(tmp_path):
    """The first attack runs if loaded by pickle itself: refusing it means something."""
    marker = tmp_path / "pwned"
    blob = _hostile(marker)[0]
    assert "REDUCE" in {op.name for op, _, _ in pickletools.genops(io.BytesIO(blob))}
    pickle.loads(blob)
    assert marker.exists()
