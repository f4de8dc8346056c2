"""Each sBLIMP-like generator, each subtype, over many draws: minimal, well-formed, really different."""

from __future__ import annotations

import random

import pytest

from slmscale.text.grammar import split_words
from slmscale.text.pairs_blimp import PHENOMENA, _overregularised
from slmscale.text.lexicon import LEXICON

CASES = [(name, sub) for name, (_, subs) in PHENOMENA.items() for sub in subs]


@pytest.mark.parametrize("phenomenon, subtype", CASES)
def test_generator_makes_minimal_varied_pairs(phenomenon, subtype):
    gen, _ = PHENOMENA[phenomenon]
    rng = random.Random(f"test/{phenomenon}/{subtype}")
    pairs = [gen(rng, subtype) for _ in range(150)]
    assert len({g for g, _ in pairs}) >= 100  # enough distinct sentences to pick held-out ones from
    for good, bad in pairs:
        g, b = split_words(good), split_words(bad)
        assert len(g) == len(b) and g != b
        diff = [i for i, (x, y) in enumerate(zip(g, b)) if x != y]
        assert len(diff) in (1, 2), (good, bad)
        if len(diff) == 2:  # a swap of neighbours
            i, j = diff
            assert j == i + 1 and (g[i], g[j]) == (b[j], b[i])
        assert good[0].isupper() and good.endswith(".") and bad.endswith(".")
        assert set(g) <= LEXICON.word_forms, good


def test_overregularised_forms():
    v = LEXICON.verb_index
    assert [_overregularised(v[x]) for x in ("eat", "run", "swim", "bring", "fly", "buy")] == \
        ["eated", "runned", "swimmed", "bringed", "flied", "buyed"]
