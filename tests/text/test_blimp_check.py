"""The sBLIMP checker: constraints judged from the lexicon, mislabelled and non-minimal pairs rejected."""

from __future__ import annotations

from slmscale.text.blimp_check import check_pair, licensed, minimal


def test_right_pairs_pass():
    assert check_pair("subject_verb_agreement", "The cats near the dog run.", "The cats near the dog runs.") is None
    assert check_pair("anaphor_agreement", "Lily hurt herself.", "Lily hurt himself.") is None
    assert check_pair("island_effects", "Who did Lily say that the dog chased?",
                      "Who did Lily say the dog that chased?") is None
    assert check_pair("npi_licensing", "No dog ever saw a ball.", "The dog ever saw a ball.") is None


def test_mislabelled_pairs_are_rejected():
    # good and bad swapped
    assert "violates" in check_pair("irregular_forms", "Lily eaten the cake.", "Lily ate the cake.")
    # the examples: a "bad" sentence that is grammatical, or a verb the check cannot vouch for
    assert check_pair("argument_structure", "Lily slept at the park.", "Lily grabbed at the park.") is not None
    assert "satisfies" in check_pair("determiner_noun_agreement", "Lily saw this cat.", "Lily saw that cat.")
    assert "satisfies" in check_pair("filler_gap_dependency", "Lily knew what Tom found.",
                                     "Lily knew what Tom found.".replace("found", "liked"))


def test_minimality():
    assert minimal("The cat runs.", "The cat run.")
    assert minimal("Ann saw two red balls and Tom saw three.", "Ann saw two balls and Tom saw three red.")
    assert not minimal("The cat runs.", "The dog run.")
    assert not minimal("The cat runs.", "The cat runs fast.")
    assert not minimal("a b c d", "d c b a")
    assert "not a minimal pair" in check_pair("anaphor_agreement", "Lily hurt herself.", "Mia hurt himself.")


def test_unknown_shapes_cannot_be_judged():
    assert licensed("argument_structure", "Lily ran.") is None
    assert "outside the lexicon" in check_pair("binding", "Lily said that Tom hurt himself.",
                                              "Lily said that Tom hurt zorbself.")
