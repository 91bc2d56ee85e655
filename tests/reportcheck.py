"""What the report tests check on a run's PDFs: every number in the text is one of the
run's (a value of a CSV or JSON file of the run folder, within the rounding it is
printed with), and every figure prints legibly.

Numbers are read from the text pypdf extracts, page header and footer removed. A number
glued to letters is part of a name (layer4, ResNet50, IMAGENET1K_V2, top-1, ViT-B/16) and
is not read. A CSV gives its cells, its row count, and per column the count of each
value (so "8 of 10 images" has a source: 8 True in a column of a 10-row table)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from pypdf import PdfReader

# a number not glued to a name: not after a letter, '_', '/', '.', a digit or "top-"
NUMBER = re.compile(r"(?<![A-Za-z_/.\d])(?<![A-Za-z]-)[−-]?(\d+(?:\.\d+)?)(%?)")
_GLUED = re.compile(r"[A-Za-z_]")
_UNITS = ("px", "pt", "MB", "KB", "ms", "s")
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
HEADER_FOOTER = re.compile(r"^(explainlab · .*|page \d+|report \d · run .*)$")


def numbers_in(text: str) -> list[tuple[str, float, int, bool]]:
    """Every number of ``text`` as (as printed, value, decimals, percent)."""
    text = DATE.sub(" ", text)
    found = []
    for match in NUMBER.finditer(text):
        digits, percent = match.groups()
        after = text[match.end() :]
        if not percent and after[:1] and (after[:1].isdigit() or after[:1] == "."):
            if after[:1] == "." and not after[1:2].isdigit():
                pass  # a full stop
            else:
                continue
        if not percent and after[:1] and _GLUED.match(after[:1]):
            word = re.match(r"[A-Za-z_]+", after).group(0)
            if word not in _UNITS:
                continue  # part of a name
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        found.append((match.group(0), float(digits), decimals, bool(percent)))
    return found


def _values(obj: object) -> Iterable[float]:
    if isinstance(obj, (bool, int, float)):
        yield float(obj)
    elif isinstance(obj, dict):
        yield float(len(obj))
        for value in obj.values():
            yield from _values(value)
    elif isinstance(obj, list):
        yield float(len(obj))
        for value in obj:
            yield from _values(value)


def run_values(sources: Iterable[Path]) -> set[float]:
    """Every number of every CSV and JSON file in ``sources`` (files or folders)."""
    values: set[float] = set()
    files = []
    for source in map(Path, sources):
        files += sorted(source.rglob("*")) if source.is_dir() else [source]
    for path in files:
        if path.suffix == ".json" and path.is_file():
            try:
                values.update(_values(json.loads(path.read_text())))
            except (ValueError, UnicodeDecodeError):
                continue
        elif path.suffix == ".csv" and path.is_file():
            frame = pd.read_csv(path)
            values.add(float(len(frame)))
            for column in frame.columns:
                series = frame[column]
                numeric = pd.to_numeric(series, errors="coerce")
                values.update(float(v) for v in numeric.dropna())
                values.update(float(c) for c in series.value_counts().to_numpy())
                if series.dtype == bool or set(series.dropna().astype(str)) <= {"True", "False"}:
                    values.add(float((series.astype(str) == "True").sum()))
    return {v for v in values if math.isfinite(v)}


def matches(value: float, decimals: int, percent: bool, known: set[float]) -> bool:
    """``value`` as printed is one of ``known`` rounded to ``decimals`` (a percentage:
    of a fraction or of a value already in percent); the sign is not compared."""
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    for v in known:
        v = abs(v)
        if abs(v - value) <= tolerance:
            return True
        if percent and abs(100 * v - value) <= tolerance:
            return True
    return False


def report_text(pdf: Path) -> str:
    """The text of a report, each page's header (banner, title line) and footer removed."""
    lines = []
    for page in PdfReader(str(pdf)).pages:
        for line in page.extract_text().splitlines():
            if not HEADER_FOOTER.match(line.strip()):
                lines.append(line)
    return "\n".join(lines)


def foreign_numbers(pdf: Path, sources: Iterable[Path]) -> list[str]:
    """The numbers of ``pdf``'s text that no CSV or JSON file of ``sources`` holds."""
    known = run_values(sources)
    return [
        printed
        for printed, value, decimals, percent in numbers_in(report_text(pdf))
        if not matches(value, decimals, percent, known)
    ]


def free_values(sources: Iterable[Path], decimals: int = 2, top: float = 1.0) -> list[float]:
    """Values in [0, ``top``] at ``decimals`` that no file of ``sources`` holds: where
    there are none, a check of numbers at that precision could not fail."""
    known = run_values(sources)
    step = 10.0**-decimals
    grid = [round(i * step, decimals) for i in range(round(top / step) + 1)]
    return [g for g in grid if not matches(g, decimals, False, known)]


# a stage writes into .<folder>.partial/, each item into a temporary .<item>.<8 chars>/
_TEMPORARY = re.compile(r"\.(.+)\.(?:partial|[a-z0-9_]{8})")


def final_path(path: Path) -> Path:
    """Where a file a stage writes ends up once its item and the stage are committed."""
    parts = [
        m.group(1) if (m := _TEMPORARY.fullmatch(part)) else part
        for part in Path(path).resolve().parts
    ]
    return Path(*parts)


class FigureLog:
    """Records, while installed, every figure a stage saves (its smallest text in points
    and its text collisions) and where each report prints it (its scale against the size
    it was drawn at), so that a test can check each figure's text at print size; and the
    text of each report's table cells, by the report's path."""

    def __init__(self) -> None:
        self.drawn: dict[Path, tuple[float, list[str]]] = {}
        self.placed: dict[str, list[tuple[Path, float]]] = {}
        self.cells: dict[Path, list[str]] = {}

    def install(self, monkeypatch) -> FigureLog:
        from explainlab import plotting, runfolder
        from explainlab.report import pdf

        save_figure, save_report = runfolder.save_figure, pdf.Report.save

        def record_figure(figure, path, **kwargs):
            texts, _ = plotting.drawn_texts(figure)
            smallest = min((t.get_fontsize() for t in texts), default=float("inf"))
            overlaps = [
                p
                for p in plotting.legibility_problems(figure, print_width_in=1e9)
                if " overlaps " in p
            ]
            self.drawn[final_path(path)] = (smallest, overlaps)
            return save_figure(figure, path, **kwargs)

        def record_report(report, path):
            self.placed[Path(path).name] = [(final_path(p), s) for p, s in report.placed]
            self.cells[final_path(path)] = list(report.cells)
            return save_report(report, path)

        monkeypatch.setattr(runfolder, "save_figure", record_figure)
        monkeypatch.setattr(pdf.Report, "save", record_report)
        return self

    def problems(self, min_points: float) -> list[str]:
        """Each figure a report printed whose text collides or prints under
        ``min_points``; a printed figure that was not recorded is a problem too."""
        found = []
        for report, figures in self.placed.items():
            for path, scale in figures:
                if path not in self.drawn:
                    found.append(f"{report}: {path} was not drawn while recorded")
                    continue
                smallest, overlaps = self.drawn[path]
                if smallest * scale < min_points - 1e-9:
                    found.append(f"{report}: {path.name} prints text at {smallest * scale:.1f} pt")
                found += [f"{report}: {path.name}: {o}" for o in overlaps]
        return found


def broken_words(pdf: Path, cells: Iterable[str]) -> list[str]:
    """The words of table ``cells`` that ``pdf``'s text does not hold whole (a cell wrapped
    inside a word prints it as two pieces on two lines)."""
    printed = {word for page in PdfReader(str(pdf)).pages for word in page.extract_text().split()}
    return sorted({word for cell in cells for word in cell.split() if word not in printed})
