"""Each sBLIMP-like generator, each paradigm, over many draws: checked, minimal, varied, BLiMP-named."""

from __future__ import annotations

import random

import pytest

from slmscale.text.blimp_check import check_pair
from slmscale.text.grammar import split_words
from slmscale.text.lexicon import LEXICON
from slmscale.text.pairs_blimp import PHENOMENA

CASES = [(name, sub) for name, (_, subs) in PHENOMENA.items() for sub in subs]
BLIMP_CATEGORIES = {"anaphor_agreement", "argument_structure", "binding", "control_raising",
                    "determiner_noun_agreement", "ellipsis", "filler_gap_dependency", "irregular_forms",
                    "island_effects", "npi_licensing", "quantifiers", "subject_verb_agreement"}


def test_categories_are_blimps():
    assert set(PHENOMENA) <= BLIMP_CATEGORIES and len(PHENOMENA) >= 9


@pytest.mark.parametrize("phenomenon, subtype", CASES)
def test_generator_makes_checked_varied_pairs(phenomenon, subtype):
    gen, _ = PHENOMENA[phenomenon]
    rng = random.Random(f"test/{phenomenon}/{subtype}")
    pairs = [gen(rng, subtype) for _ in range(200)]
    assert len({g for g, _ in pairs}) >= 100  # enough distinct sentences to pick held-out ones from
    for good, bad in pairs:
        assert check_pair(phenomenon, good, bad) is None, (good, bad)
        assert check_pair(phenomenon, bad, good) is not None, (good, bad)  # mislabelled: rejected
        assert good[0].isupper() and good[-1] in ".?" and bad[-1] in ".?"
        assert set(split_words(good)) <= LEXICON.word_forms, good
