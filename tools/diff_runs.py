"""Compare two run folders file by file: are the maps, masks, tables and pickle the same?

    python tools/diff_runs.py results/before/offline-stand-in results/after/offline-stand-in

Arrays (.npy) and the pickle must be bitwise equal; CSV and JSON tables equal once the
columns and keys that hold wall-clock timings, dates, paths or package versions are left
out (they differ between any two runs); a PDF's text must be equal line for line, except
numbers (listed, for a person to check that they are the timings a report prints). Figures (.png/.jpg) are compared bitwise and listed apart,
since a panel prints its timings. Exits 1 when anything that must match differs."""

from __future__ import annotations

import argparse
import difflib
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
# Folders that only render what the others hold (the viewer: thumbnails, the tables again).
SKIP_FOLDERS = ("view",)


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


# What names the run itself (its commit, folder, config file, when it was written).
IDENTITY = {"code", "written", "config_file", "output_root"}


def same_json(a: Path, b: Path, runs: tuple[Path, Path]) -> bool:
    def read(path: Path, run_dir: Path):
        text = path.read_text().replace(str(run_dir), "<run>")
        return _strip(_drop(json.loads(text)))

    return read(a, runs[0]) == read(b, runs[1])


def _drop(value):
    if isinstance(value, dict):
        return {k: _drop(v) for k, v in value.items() if k not in IDENTITY}
    if isinstance(value, list):
        return [_drop(v) for v in value]
    return value


def pdf_words(path: Path, run_dir: Path) -> list[str]:
    """A PDF's words, the run folder's path left out (every page's footer names it)."""
    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(path.read_bytes())).pages
    text = " ".join(page.extract_text() or "" for page in pages).replace(str(run_dir), "<run>")
    return text.split()


NUMBER = re.compile(r"^[×x]?-?\d[\d,.]*%?[),.;:]*$")


def pdf_verdict(a: Path, b: Path, runs: tuple[Path, Path]) -> str:
    """'same text', 'same text but numbers: ...' (for a person to check that they are
    the timings a report prints) or 'DIFFERENT text: ...'."""
    left, right = pdf_words(a, runs[0]), pdf_words(b, runs[1])
    changed: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            changed.append((" ".join(left[i1:i2]), " ".join(right[j1:j2])))
    if not changed:
        return "same text"
    words = [w for pair in changed for part in pair for w in part.split()]
    shown = "; ".join(f"{x!r} -> {y!r}" for x, y in changed[:12])
    if len(changed) == len([p for p in changed if p[0] and p[1]]) and all(
        NUMBER.match(w) for w in words
    ):
        return f"same text but numbers: {shown}"
    return f"DIFFERENT text: {shown}"


def compare(a: Path, b: Path, runs: tuple[Path, Path]) -> tuple[str, bool]:
    """(verdict, must_match) for the pair of files."""
    suffix = a.suffix.lower()
    if suffix == ".npy":
        x, y = np.load(a, allow_pickle=False), np.load(b, allow_pickle=False)
        return ("same" if x.dtype == y.dtype and np.array_equal(x, y) else "DIFFERENT"), True
    if suffix == ".csv":
        return ("same" if same_csv(a, b) else "DIFFERENT"), True
    if suffix == ".json":
        return ("same" if same_json(a, b, runs) else "DIFFERENT"), True
    if suffix == ".pdf":
        verdict = pdf_verdict(a, b, runs)
        return verdict, verdict.startswith("DIFFERENT")
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
        if p.is_file()
        and p.name not in SKIP
        and ".partial" not in str(p)
        and p.relative_to(root).parts[0] not in SKIP_FOLDERS
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
        verdict, must = compare(args.before / rel, args.after / rel, (args.before, args.after))
        kind = verdict.split(":")[0]
        counts[kind] = counts.get(kind, 0) + 1
        if verdict != "same" and verdict != "same text":
            print(f"{rel}: {verdict}{'' if must else ' (to look at: figure, note or timings)'}")
            failed += must
    print(", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    print("must-match files differing or missing:", failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
