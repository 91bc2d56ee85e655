"""Compare two run folders file by file: are the maps, masks, tables and pickle the same?

    python tools/diff_runs.py results/before/offline-stand-in results/after/offline-stand-in

Arrays (.npy) and the pickle must be bitwise equal; CSV and JSON tables equal once the
columns and keys that hold wall-clock timings, dates, paths or package versions are left
out (they differ between any two runs); a PDF's text must be equal line for line, except
lines that print such timings. Figures (.png/.jpg) are compared bitwise and listed apart,
since a panel prints its timings. Exits 1 when anything that must match differs."""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# Columns and keys whose values differ between any two runs of the same inputs.
VOLATILE = re.compile(
    r"(seconds|_s$|^s$|time|wall|elapsed|started|finished|date|created|host|pid|path|"
    r"version|cache|source$|python|platform|duration|per_image_s|rate|throughput)",
    re.IGNORECASE,
)
# Files that only record how a run went, not what it computed.
SKIP = ("fingerprint.json", "cost_model.json", ".explainlab.lock", "run.log")


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not VOLATILE.search(str(k))}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def same_csv(a: Path, b: Path) -> bool:
    left, right = pd.read_csv(a), pd.read_csv(b)
    keep = [c for c in left.columns if not VOLATILE.search(str(c))]
    if list(left.columns) != list(right.columns):
        return False
    return left[keep].equals(right[keep])


def same_json(a: Path, b: Path) -> bool:
    return _strip(json.loads(a.read_text())) == _strip(json.loads(b.read_text()))


def pdf_lines(path: Path) -> list[str]:
    from pypdf import PdfReader

    text = "\n".join(
        page.extract_text() or "" for page in PdfReader(io.BytesIO(path.read_bytes())).pages
    )
    # timings and dates change from run to run
    return [
        line
        for line in text.splitlines()
        if not re.search(r"\d+(\.\d+)?\s*(s|min|ms)\b|\d{4}-\d{2}-\d{2}", line)
    ]


def compare(a: Path, b: Path) -> tuple[str, bool]:
    """(verdict, must_match) for the pair of files."""
    suffix = a.suffix.lower()
    if suffix == ".npy":
        x, y = np.load(a, allow_pickle=False), np.load(b, allow_pickle=False)
        return ("same" if x.dtype == y.dtype and np.array_equal(x, y) else "DIFFERENT"), True
    if suffix == ".csv":
        return ("same" if same_csv(a, b) else "DIFFERENT"), True
    if suffix == ".json":
        return ("same" if same_json(a, b) else "DIFFERENT"), True
    if suffix == ".pdf":
        return ("same text" if pdf_lines(a) == pdf_lines(b) else "DIFFERENT text"), True
    if suffix in (".pkl", ".md", ".txt", ".toml"):
        return ("same" if a.read_bytes() == b.read_bytes() else "DIFFERENT"), suffix == ".pkl"
    return ("same" if a.read_bytes() == b.read_bytes() else "differs"), False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    files = lambda root: {  # noqa: E731
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and p.name not in SKIP and ".partial" not in str(p)
    }
    before, after = files(args.before), files(args.after)
    failed = 0
    counts: dict[str, int] = {}
    for rel in sorted(before | after):
        if rel not in after or rel not in before:
            where = "before" if rel in before else "after"
            print(f"only {where}: {rel}")
            failed += 1
            continue
        verdict, must = compare(args.before / rel, args.after / rel)
        counts[verdict] = counts.get(verdict, 0) + 1
        if not verdict.startswith("same"):
            print(f"{verdict}{'' if must else ' (figure or note)'}: {rel}")
            failed += must
    print(", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    print("must-match files differing or missing:", failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
