"""Broden's label categories (object, part, scene, material, texture, color) for concepts.

``broden_labels_clean.txt`` lists Broden's labels without their categories, so the
category of a label comes from, in this order:

1. Broden's own tables (``c_<category>.csv`` in ``broden1_224.zip``, when the zip is in
   the cache or the mirror): a label's primary category is the one where it has the
   largest coverage, as NetDissect defines it;
2. the published NetDissect results of ResNet18-Places365 (``layer1``/``layer4`` CSVs,
   registry assets): each unit's best label in each category names that category;
   a label seen in several categories takes the one it appears in most;
3. Places365's category list: Broden's scene labels are Places365 categories (the
   reference maps them by name), so a Broden label equal to one is a scene.
4. ImageNet's class names and their synonyms (CLIP-Dissect's ``imagenet_labels.txt``):
   a concept that is one (``goldfish``, ``Boston terrier``) names an object, whether or
   not Broden has it, except the geological formations (classes 970-980 but bubble:
   ``alp``, ``cliff``, ``seashore`` ...), which are scenes. Without this, "how many
   objects did a unit set learn" could only count Broden's ~580 object labels.

A concept none of these sources names is "other"; so is a Broden label whose category
none of them gives (reported as such). A concept that is another word form of a labelled
name (a plural, "bedrooms", "kitchens"; a noun of a texture adjective, "stripes",
"checker", "dots", "mesh") takes that name's category (source: :data:`SOURCE_FORM`). Names are compared after the cleaning
of ``broden_labels_clean.txt``: ``-s``/``-c`` suffixes dropped, ``_`` to spaces, ``/`` to
``-``, lower case."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from explainlab import assets
from explainlab.errors import AssetError

CATEGORIES: tuple[str, ...] = ("object", "part", "scene", "material", "texture", "color")
OTHER = "other"
NETDISSECT_FILES = ("resnet18_places365_layer1.csv", "resnet18_places365_layer4.csv")

SOURCE_ZIP = "Broden tables (broden1_224.zip)"
SOURCE_NETDISSECT = "NetDissect results (ResNet18-Places365)"
SOURCE_PLACES = "Places365 category list (scene)"
SOURCE_UNKNOWN = "Broden label, category not available offline"
SOURCE_NOT_BRODEN = "not a Broden label"
SOURCE_IMAGENET = "ImageNet class name"
SOURCE_FORM = "word form of a labelled name"
# nouns of Broden's texture labels (DTD's adjectives) that CLIP-Dissect's 20k set uses
TEXTURE_FORMS = {
    "checker": "chequered",
    "checkered": "chequered",
    "checkerboard": "chequered",
    "stripe": "striped",
    "stripes": "striped",
    "dots": "dotted",
    "dot": "dotted",
    "polka dots": "polka-dotted",
    "mesh": "meshed",
    "zigzag": "zigzagged",
    "zigzags": "zigzagged",
    "honeycomb": "honeycombed",
    "wrinkles": "wrinkled",
    "cobweb": "cobwebbed",
    "cobwebs": "cobwebbed",
    "pleats": "pleated",
}
# ImageNet classes 970-980 are geological formations (scenes), except 971, bubble.
IMAGENET_SCENES = frozenset(range(970, 981)) - {971}


def normalize(name: str) -> str:
    name = re.sub(r"-[sc]$", "", str(name).strip().lower())
    return re.sub(r"\s+", " ", name.replace("_", " ").replace("/", "-")).strip()


@dataclass
class CategoryMap:
    categories: dict[str, str] = field(default_factory=dict)  # normalised label -> category
    sources: dict[str, str] = field(default_factory=dict)  # normalised label -> source
    broden_labels: set[str] = field(default_factory=set)  # normalised Broden labels
    notes: list[str] = field(default_factory=list)  # which sources were (not) available

    def category(self, concept: str) -> str:
        key = normalize(concept)
        if key in self.categories:
            return self.categories[key]
        form = self._form(key)
        return self.categories.get(form, "texture" if form else OTHER)

    def source(self, concept: str) -> str:
        key = normalize(concept)
        if key in self.sources:
            return self.sources[key]
        if self._form(key):
            return SOURCE_FORM
        return SOURCE_UNKNOWN if key in self.broden_labels else SOURCE_NOT_BRODEN

    def _form(self, key: str) -> str:
        """The labelled name ``key`` is another word form of ("" if none): a noun of a
        texture (Broden's textures are DTD's: a texture even where no table names its
        category), or a plural ("-s", "-es") of a name with a category. A Broden label
        of its own is not read as another's form."""
        if key in self.broden_labels or key in self.categories:
            return ""
        if key in TEXTURE_FORMS:
            return TEXTURE_FORMS[key]
        singular = [key[:-1], key[:-2] if key.endswith("es") else ""] if key.endswith("s") else []
        return next((c for c in singular if len(c) > 2 and c in self.categories), "")

    def _add(self, label: str, category: str, source: str, *, broden: bool = True) -> None:
        key = normalize(label)
        if key and key not in self.categories:
            self.categories[key] = category
            self.sources[key] = source
            if broden:
                self.broden_labels.add(key)


def imagenet_categories(text: str) -> dict[str, str]:
    """Every class name and synonym of ``imagenet_labels.txt`` (one class a line, in class
    order, synonyms separated by commas) -> 'object', or 'scene' for the formations."""
    out: dict[str, str] = {}
    for index, line in enumerate(text.splitlines()):
        for name in line.split(","):
            if name.strip():
                out.setdefault(name.strip(), "scene" if index in IMAGENET_SCENES else "object")
    return out


def categories_from_zip(path: Path) -> dict[str, str]:
    """Primary category (largest coverage) of every label in a Broden zip's tables."""
    best: dict[str, tuple[float, str]] = {}
    with zipfile.ZipFile(path) as archive:
        names = {n.rstrip("/").rsplit("/", 1)[-1]: n for n in archive.namelist()}
        for category in CATEGORIES:
            member = names.get(f"c_{category}.csv")
            if member is None:
                continue
            with archive.open(member) as raw:
                for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
                    coverage = float(row.get("coverage") or 0.0)
                    name = row.get("name", "")
                    if name and coverage >= best.get(name, (-1.0, ""))[0]:
                        best[name] = (coverage, category)
    return {name: category for name, (_, category) in best.items()}


def categories_from_netdissect(paths: list[Path]) -> dict[str, str]:
    counts: dict[str, Counter] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for category in CATEGORIES:
                    label = (row.get(f"{category}-label") or "").strip()
                    if label:
                        counts.setdefault(label, Counter())[category] += 1
    # most frequent category; ties go to the order of CATEGORIES
    return {
        label: max(CATEGORIES, key=lambda c, n=n: (n[c], -CATEGORIES.index(c)))
        for label, n in counts.items()
    }


def load_category_map(*, broden_zip: Path | None = None) -> CategoryMap:
    """The best category map the files at hand allow (see the module docstring)."""
    result = CategoryMap()
    try:
        clean = assets.fetch("broden_labels_clean.txt", allow_download=False)
        result.broden_labels = {
            normalize(line)
            for line in clean.read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
    except AssetError:
        result.notes.append("broden_labels_clean.txt is not available: Broden labels unknown")

    zip_path = broden_zip
    if zip_path is None:
        try:
            zip_path = assets.fetch("broden1_224.zip", allow_download=False)
        except AssetError:
            zip_path = None
    if zip_path is not None:
        for label, category in categories_from_zip(zip_path).items():
            result._add(label, category, SOURCE_ZIP)
        result.notes.append(f"categories from Broden's own tables in {zip_path.name}")
    else:
        result.notes.append(
            "broden1_224.zip is not available, so Broden's own category tables were not used"
        )

    try:
        found = assets.fetch_many(NETDISSECT_FILES, allow_download=False)
        for label, category in categories_from_netdissect(list(found.values())).items():
            result._add(label, category, SOURCE_NETDISSECT)
        result.notes.append("categories from the published NetDissect results (ResNet18-Places365)")
    except AssetError:
        result.notes.append("the NetDissect result tables are not available")

    try:
        from explainlab.models.labels import places365_labels

        scenes = [normalize(n) for n in places365_labels()]
        for scene in scenes:
            if scene in result.broden_labels:
                result._add(scene, "scene", SOURCE_PLACES)
    except (AssetError, ValueError):
        result.notes.append("categories_places365.txt is not available")

    try:
        names = assets.fetch("imagenet_labels.txt", allow_download=False).read_text(
            encoding="utf-8"
        )
        for name, category in imagenet_categories(names).items():
            result._add(
                name, category, SOURCE_IMAGENET, broden=normalize(name) in result.broden_labels
            )
        result.notes.append(
            "ImageNet class names and synonyms count as objects (formations as scenes)"
        )
    except AssetError:
        result.notes.append("imagenet_labels.txt is not available: ImageNet class names not used")
    return result
