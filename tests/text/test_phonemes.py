"""espeak-ng transcriptions: mnemonics, stress on vowels, speakable strings, homophone sets."""

from __future__ import annotations

import pytest

from slmscale.text import phonemes
from slmscale.text.phonemes import base_phone, is_vowel, phonemize, pronunciations, speakable


def test_phonemize_words():
    p = phonemize(["basket", "cat", "the"])
    assert p["basket"][0] == "b" and p["basket"][-1] == "t" and sum(map(is_vowel, p["basket"])) == 2
    assert [base_phone(x) for x in p["cat"]] == ["k", "a", "t"]
    assert sum(x.startswith("'") for x in p["basket"]) == 1  # one primary stress, on a vowel
    assert all(is_vowel(x) for x in p["basket"] if x[0] in "',")
    assert phonemize(["cat"]) == {"cat": p["cat"]}  # memoised, same answer


def test_speakable_and_pronunciations():
    assert speakable(("k", "'a", "t")) == "[[k'at]]"
    prons = pronunciations(frozenset({"cat", "sea", "see"}))
    assert ("k", "a", "t") in prons and len(prons) == 2  # sea and see are homophones


def test_long_lists_split_over_children_transcribe_as_one(monkeypatch):
    """Long word lists go to several forked children; the split never changes a transcription."""
    words = [f"{a}{b}" for a in ("cat", "dog", "sun", "bright", "over") for b in ("", "s", "ly", "ing", "ed")]
    monkeypatch.setattr(phonemes, "PARALLEL_WORDS", 10**9)
    one = phonemes._in_child(words)
    monkeypatch.setattr(phonemes, "PARALLEL_WORDS", 4)
    monkeypatch.setattr("slmscale.cpus.usable_cpus", lambda: 3)
    assert phonemes._in_child(words) == one and len(one) == len(words)


def test_a_failing_child_is_an_error_not_a_silent_gap(monkeypatch):
    monkeypatch.setattr(phonemes, "_phonemize_here", lambda words: 1 / 0)
    with pytest.raises(RuntimeError, match="phonemisation failed"):
        phonemes._in_child(["cat", "dog"])
