"""Name normalisation: case, width, whitespace, punctuation, simple plurals."""

from __future__ import annotations

import pytest

from medsynth.kg.normalize import normalize, singular


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Lung Cancer", "lung  cancer"),
        ("Pulmonary Nodules", "pulmonary nodule"),
        ("Non-enhancing Tumor", "non enhancing tumor"),
        ("Crohn's Disease", "Crohns disease"),
        ("ＬＵＮＧ", "lung"),  # full-width letters
        ("Kidneys", "kidney"),
        ("Arteries", "artery"),
        ("Abscesses", "abscess"),
        ("  Liver\tCyst ", "liver cyst"),
        ("肺癌，", "肺癌"),
    ],
)
def test_equivalent_spellings_share_a_key(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Lung", "Liver"), ("Lung Cancer", "Lung"), ("Left Kidney", "Kidney"), ("肺", "肝")],
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalize(a) != normalize(b)


@pytest.mark.parametrize("word", ["virus", "diagnosis", "mass", "gas", "bus", "abs"])
def test_words_that_end_in_s_but_are_not_plurals(word: str) -> None:
    assert singular(word) in {word, word[:-1]}
    assert normalize(word) == normalize(word.upper())


def test_singular_leaves_short_and_non_ascii_tokens() -> None:
    assert singular("ms") == "ms"
    assert singular("ribs") == "rib"
    assert singular("größes") == "größes"
    assert singular("ct2s") == "ct2s"


def test_empty_and_punctuation_only_names_normalise_to_empty() -> None:
    assert normalize("") == ""
    assert normalize(" -- ") == ""
