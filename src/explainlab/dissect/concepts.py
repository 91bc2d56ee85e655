"""Concept sets: CLIP-Dissect's word lists from the asset registry, or any text file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from explainlab import assets
from explainlab.dissect.settings import CONCEPT_SETS
from explainlab.errors import InputError, UnknownNameError
from explainlab.models.labels import parse_places365_categories


@dataclass(frozen=True)
class ConceptSet:
    name: str  # the short name ("20k") or the file's stem
    path: Path
    words: tuple[str, ...]
    digest: str  # sha256 of the file: part of every cache key that depends on the words

    def __len__(self) -> int:
        return len(self.words)


def places365_concepts(text: str) -> list[str]:
    """``/b/bakery/shop 3`` -> ``bakery-shop``: the naming of CLIP-Dissect's cleaned Broden
    scene labels (underscores to spaces, sub-category after a dash)."""
    return [n.replace("_", " ").replace("/", "-") for n in parse_places365_categories(text)]


def read_words(path: Path) -> list[str]:
    """One concept a line, stripped; empty lines ignored (as the reference does)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: concept file not found", hint="check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file", hint="give one concept a line") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_concepts(spec: str) -> ConceptSet:
    """``spec``: a name of :data:`CONCEPT_SETS` (fetched through the asset registry) or a file."""
    if spec in CONCEPT_SETS:
        path = assets.fetch(CONCEPT_SETS[spec])
        name = spec
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise UnknownNameError(
                f"concept set {spec!r} is neither a known name nor a file",
                hint=f"use one of {', '.join(CONCEPT_SETS)} or a text file with one concept a line",
            )
        name = path.stem
    if path.name == CONCEPT_SETS["places365"]:
        try:
            words = places365_concepts(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"{path}: not a Places365 category list ({exc})") from None
    else:
        words = read_words(path)
    if not words:
        raise InputError(f"{path}: the concept set is empty", hint="give one concept a line")
    return ConceptSet(name, path, tuple(words), assets.file_digest(path))
