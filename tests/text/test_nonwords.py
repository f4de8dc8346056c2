"""Wuggy-style non-words over espeak-ng phones: syllables, matched structure, no homophones."""

from __future__ import annotations

import random

import pytest

from slmscale.text.nonwords import (known_pronunciations, lexicon_words, make_nonword, segment_model, segments,
                                    syllabify)
from slmscale.text.phonemes import base_phone, is_vowel, phonemize


@pytest.fixture(scope="module")
def model():
    return segment_model(tuple(lexicon_words()))


def test_syllabify_uses_maximal_legal_onsets(model):
    s = syllabify(("r", "'a", "b", "I", "t"), model.onsets)  # rabbit
    assert [(x.onset, x.nucleus, x.coda) for x in s] == [(("r",), ("a",), ()), (("b",), ("I",), ("t",))]
    assert s[0].stress == "'" and s[1].stress == ""
    s = syllabify(("'a", "n", "t", "s"), model.onsets)  # one vowel: everything after it is coda
    assert len(s) == 1 and s[0].coda == ("n", "t", "s")
    assert syllabify(("s", "t"), model.onsets) == []


def test_nonwords_keep_structure_and_are_not_words(model):
    known = known_pronunciations(extended=False)
    rng = random.Random(0)
    words = lexicon_words()[::15]
    made = 0
    for word, phones in phonemize(words).items():
        nw = make_nonword(phones, rng, model, known)
        if nw is None:
            continue
        made += 1
        flat = tuple(base_phone(p) for p in nw)
        assert flat not in known and nw != phones
        assert len(nw) == len(phones)
        assert [is_vowel(p) for p in nw] == [is_vowel(p) for p in phones]  # same CV skeleton
        assert [p[0] for p in nw if p[0] in "',"] == [p[0] for p in phones if p[0] in "',"]  # stress
        a = segments(syllabify(phones, model.onsets))
        b = segments(syllabify(nw, model.onsets))
        assert [(k, len(s)) for k, s in a] == [(k, len(s)) for k, s in b]  # syllable structure
        assert model.transition_score([s for _, s in b]) is not None  # only attested transitions
    assert made >= 0.8 * len(words)


def test_a_homophone_of_a_word_is_rejected(model):
    phones = phonemize(["rabbit"])["rabbit"]
    first = make_nonword(phones, random.Random(3), model, frozenset())
    assert first is not None
    # Declare the first choice a known word's pronunciation: the same draw must now avoid it.
    again = make_nonword(phones, random.Random(3), model, frozenset({tuple(base_phone(p) for p in first)}))
    assert again is not None and again != first
