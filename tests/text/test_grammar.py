"""Realisation rules and the word splitter used for TTS alignments."""

from __future__ import annotations

import pytest

from slmscale.text.grammar import (article, clean_sentence, normalize_key, present_participle, pronoun,
                                   regular_past, regular_plural, split_words, third_person)


@pytest.mark.parametrize("word, plural", [("cat", "cats"), ("box", "boxes"), ("bush", "bushes"),
                                          ("puppy", "puppies"), ("toy", "toys"), ("peach", "peaches")])
def test_regular_plural(word, plural):
    assert regular_plural(word) == plural


@pytest.mark.parametrize("verb, third, past", [("run", "runs", "runed"), ("fix", "fixes", "fixed"),
                                               ("cry", "cries", "cried"), ("play", "plays", "played"),
                                               ("smile", "smiles", "smiled"), ("go", "goes", "goed")])
def test_verb_rules(verb, third, past):
    assert third_person(verb) == third and regular_past(verb) == past


@pytest.mark.parametrize("verb, past, ing", [("run", "ran", "running"), ("hop", "hopped", "hopping"),
                                             ("make", "made", "making"), ("tie", "tied", "tying"),
                                             ("see", "saw", "seeing"), ("play", "played", "playing")])
def test_present_participle(verb, past, ing):
    assert present_participle(verb, past) == ing


def test_articles_follow_sound():
    assert [article(w) for w in ("apple", "ball", "umbrella", "unicorn", "hour", "egg", "one")] == \
        ["an", "a", "an", "a", "an", "an", "a"]


def test_pronouns():
    assert [pronoun(g, "refl") for g in "fmnp"] == ["herself", "himself", "itself", "themselves"]
    assert pronoun("f", "obj") == "her" and pronoun("m", "poss") == "his"


def test_clean_sentence():
    assert clean_sentence("  the  dog ran ,  fast ") == "The dog ran, fast."
    assert clean_sentence('"hi!" said tom') == '"Hi!" said tom.'
    assert clean_sentence("Is it?") == "Is it?"


def test_split_words_matches_alignment_convention():
    assert split_words("Lily said, \u201cDon\u2019t go!\u201d The ice-cream was 2 BIG.") == \
        ["lily", "said", "don't", "go", "the", "ice", "cream", "was", "2", "big"]
    assert split_words("...!?") == []
    assert normalize_key("Tom ran.") == normalize_key("tom   RAN!") == "tom ran"
