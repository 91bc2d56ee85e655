"""WordNet 3.0 categories for concepts: the lexicographer file (lexname) of a word's
first, most frequent noun sense, or of its first adjective sense when it has no noun
sense (texture words: "dotted", "striped"), merged into :data:`CATEGORIES`.

WordNet is read from its dict folder (``data.noun``, ``index.noun``, ``data.adj`` ...):
``EXPLAINLAB_WORDNET``, else ``/usr/share/wordnet``, where Debian's and Ubuntu's package
``wordnet-base`` puts it, with NLTK's ``WordNetCorpusReader``."""

from __future__ import annotations

import io
import os
import warnings
from functools import lru_cache
from pathlib import Path

from explainlab.errors import AssetError

ENV = "EXPLAINLAB_WORDNET"
DEFAULT_DIR = Path("/usr/share/wordnet")
INSTALL = (
    "install WordNet 3.0 (Debian/Ubuntu: sudo apt-get install wordnet-base, which puts it in "
    f"{DEFAULT_DIR}), or set {ENV} to a folder holding WordNet 3.0's dict files "
    "(data.noun, index.noun, data.adj, index.adj ...)"
)
NEEDED = ("data.noun", "index.noun", "data.adj", "index.adj", "noun.exc", "adj.exc")
# WordNet 3.0's lexicographer files by number (lexnames(5WN)). The C library compiles them
# in, so Debian's wordnet-base leaves the ``lexnames`` file out; NLTK's reader opens it.
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]

NONE = "no WordNet entry"
PLACE = "place"
# The 26 noun lexnames and the adjectives merged into a few readable categories: the
# visual kinds a unit can detect keep their own (artifact, animal, place ...), rare
# ones join a neighbour (body with person, food with plant), and the lexnames of
# things no image shows (act, cognition, communication, state ...) are "abstract".
# WordNet files rooms and buildings under noun.artifact and landforms under
# noun.object, so a noun whose first sense is a kind of :data:`PLACE_SYNSETS` is a place.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "pattern or quality": ("adj.all", "adj.pert", "adj.ppl"),
    "colour or attribute": ("noun.attribute",),
    "shape": ("noun.shape",),
    "material": ("noun.substance",),
    "artifact": ("noun.artifact",),
    "animal": ("noun.animal",),
    "plant or food": ("noun.plant", "noun.food"),
    "person or body": ("noun.person", "noun.body"),
    "natural object": ("noun.object",),
    PLACE: ("noun.location",),
}
CATEGORIES["abstract"] = tuple(
    n for n in LEXNAMES if n.startswith("noun.") and all(n not in v for v in CATEGORIES.values())
)
CATEGORY_OF = {lexname: c for c, names in CATEGORIES.items() for lexname in names}
PLACE_SYNSETS = ("room.n.01", "building.n.01", "geological_formation.n.01")


def wordnet_dir() -> Path:
    """WordNet's dict folder: ``EXPLAINLAB_WORDNET``, else :data:`DEFAULT_DIR`."""
    return Path(os.environ.get(ENV) or DEFAULT_DIR)


def _checked(folder: Path) -> Path:
    missing = [name for name in NEEDED if not (folder / name).is_file()]
    if missing:
        where = f"{folder} (from {ENV})" if os.environ.get(ENV) else str(folder)
        raise AssetError(
            f"WordNet 3.0 is not installed: {where} lacks {', '.join(missing)}", hint=INSTALL
        )
    return folder


def _reader_class():
    try:
        import nltk.data
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError:
        raise AssetError(
            "NLTK, which reads WordNet here, is not installed", hint="pip install nltk"
        ) from None

    class DictReader(WordNetCorpusReader):
        """NLTK's reader on a plain WordNet 3.0 dict folder, with or without ``lexnames``."""

        def open(self, fileid):
            if fileid == "lexnames" and not (Path(self.root.path) / fileid).is_file():
                return io.StringIO("".join(f"{i:02d}\t{n}\t0\n" for i, n in enumerate(LEXNAMES)))
            return super().open(fileid)

        def map_wn(self, version="wordnet"):
            return None  # this is WordNet 3.0 itself: no mapping from NLTK's copy needed

    return nltk.data, DictReader


def open_wordnet(folder: Path | None = None):
    """NLTK's WordNet reader on ``folder`` (default :func:`wordnet_dir`); an
    :class:`AssetError` that says how to install WordNet when it is missing."""
    return _open(_checked(Path(folder or wordnet_dir()).resolve()))


@lru_cache(maxsize=2)  # reading the index files takes seconds
def _open(folder: Path):
    data, reader = _reader_class()
    if str(folder) not in map(str, data.path):
        data.path.append(str(folder))  # NLTK reads corpora only from its data paths
    with warnings.catch_warnings():  # "no multilingual functions": none are used
        warnings.simplefilter("ignore", UserWarning)
        return reader(str(folder), None)


class WordNetCategories:
    """Each concept's WordNet lexname and category (:data:`CATEGORIES`), or :data:`NONE`."""

    def __init__(self, wordnet) -> None:
        self._wordnet = wordnet
        self._places = {wordnet.synset(name) for name in PLACE_SYNSETS}
        self._found: dict[str, tuple[str, str]] = {}

    def _sense(self, concept: str):
        key = "_".join(str(concept).strip().lower().split())
        for pos in ("n", "a"):  # "a" includes the satellites ("s") of adj.all
            senses = self._wordnet.synsets(key, pos) if key else []
            if senses:
                return senses[0]
        return None

    def _lookup(self, concept: str) -> tuple[str, str]:
        if concept not in self._found:
            sense = self._sense(concept)
            if sense is None:
                self._found[concept] = ("", NONE)
            else:
                lexname = sense.lexname()
                category = CATEGORY_OF[lexname]
                if category != "abstract" and self._places & set(
                    sense.closure(lambda s: s.hypernyms())
                ):
                    category = PLACE
                self._found[concept] = (lexname, category)
        return self._found[concept]

    def lexname(self, concept: str) -> str:
        """``noun.animal`` for "zebra"; "" for a word WordNet does not have."""
        return self._lookup(concept)[0]

    def category(self, concept: str) -> str:
        return self._lookup(concept)[1]


def load_wordnet_categories(folder: Path | None = None) -> WordNetCategories:
    return WordNetCategories(open_wordnet(folder))


def available(folder: Path | None = None) -> str:
    """Why WordNet cannot be read here ("" when it can), for tests and checks."""
    try:
        _checked(Path(folder or wordnet_dir()))
        _reader_class()
    except AssetError as exc:
        return str(exc)
    return ""
