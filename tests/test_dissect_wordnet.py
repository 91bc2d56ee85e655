"""WordNet 3.0 categories: known answers from the installed dictionary, a clear error
when it is missing, and a category for at least 85% of every layer's units of the
reference runs of both models."""

from __future__ import annotations

import pytest

from explainlab.dissect import progression, stability, tables
from explainlab.dissect import wordnet as wn
from explainlab.errors import AssetError

COVERAGE_TARGET = 0.85


@pytest.mark.parametrize(
    ("concept", "lexname", "category"),
    [
        ("zebra", "noun.animal", "animal"),
        ("Boston terrier", "noun.animal", "animal"),  # a phrase: WordNet's boston_terrier
        ("textile", "noun.artifact", "artifact"),
        ("dotted", "adj.all", "pattern or quality"),  # no noun sense: its adjective
        ("green", "noun.attribute", "colour or attribute"),
        ("wicker", "noun.substance", "material"),
        ("spiral", "noun.shape", "shape"),
        ("bedrooms", "noun.artifact", "place"),  # a plural; a room, so a place
        ("glacier", "noun.object", "place"),  # a geological formation
        ("pasture", "noun.location", "place"),
        ("cooking", "noun.act", "abstract"),
        ("basename", "", wn.NONE),
    ],
)
def test_known_categories(wordnet, concept, lexname, category):
    assert wordnet.lexname(concept) == lexname
    assert wordnet.category(concept) == category


def test_every_lexname_has_one_category():
    nouns_and_adjectives = [n for n in wn.LEXNAMES if not n.startswith(("verb.", "adv."))]
    assert sorted(wn.CATEGORY_OF) == sorted(nouns_and_adjectives)
    assert len(wn.LEXNAMES) == 45  # lexnames(5WN), WordNet 3.0


def test_missing_wordnet_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv(wn.ENV, str(tmp_path))
    assert "apt-get install wordnet-base" in wn.available()
    with pytest.raises(AssetError, match="data.noun") as caught:
        wn.open_wordnet()
    assert str(tmp_path) in str(caught.value) and wn.ENV in str(caught.value)


def test_coverage_of_the_reference_runs(wordnet, mirror):
    """Both models, both runs, every layer: at least 85% of the units get a category."""
    from explainlab.dissect.analysis import reference_run_paths

    runs = [tables.read_descriptions(p) for p in reference_run_paths()]
    shares = progression.category_shares(stability.group_runs(runs), wordnet)
    covered = progression.coverage(shares)
    assert len(covered) == 2 * 2 * 3  # models x runs x layers
    assert set(covered["layer"]) == {"layer2", "layer3", "layer4"}
    assert (covered["coverage"] >= COVERAGE_TARGET).all(), covered
