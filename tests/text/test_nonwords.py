"""Non-word construction: letter groups, slots, matching and the real-word filter."""

from __future__ import annotations

import random

from slmscale.text.lexicon import LEXICON
from slmscale.text.nonwords import is_real_word, letter_groups, make_nonword, slots


def test_letter_groups_and_slots():
    assert letter_groups("basket") == ["b", "a", "sk", "e", "t"]
    assert slots("basket") == ["onset", "nucleus", "medial", "nucleus", "coda"]
    assert letter_groups("happy") == ["h", "a", "pp", "y"] and slots("happy")[-1] == "final"
    assert slots("yes")[0] == "onset"  # initial y is a consonant
    assert letter_groups("eye") == ["e", "y", "e"] and slots("eye") == ["nucleus", "medial", "final"]
    assert slots("apple") == ["nucleus", "medial", "final"]


def test_real_word_filter_knows_words_and_their_inflections():
    for w in ("cat", "bat", "running", "hopped", "cried", "boxes", "dog", "mice", "lily"):
        assert is_real_word(w), w
    for w in ("blorp", "snerb", "fublet", "grompish"):
        assert not is_real_word(w), w


def test_nonwords_for_every_lexicon_shape():
    rng = random.Random(0)
    words = sorted(w for w in LEXICON.word_forms if w.isalpha() and len(w) >= 3)[::4]
    made = 0
    for word in words:
        nw = make_nonword(word, rng)
        if nw is None:
            continue
        made += 1
        assert nw != word and len(nw) == len(word) and slots(nw) == slots(word)
        assert not is_real_word(nw)
    assert made >= 0.9 * len(words)


def test_avoid_set_and_determinism():
    a = [make_nonword("garden", random.Random(1)) for _ in range(3)]
    assert len(set(a)) == 1
    first = a[0]
    assert make_nonword("garden", random.Random(1), avoid={first}) != first
    assert make_nonword("a", random.Random(1)) is None  # nothing of that shape but real words
