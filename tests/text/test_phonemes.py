"""espeak-ng transcriptions: mnemonics, stress on vowels, speakable strings, homophone sets."""

from __future__ import annotations

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
