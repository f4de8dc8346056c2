"""Benchmark text items: determinism, counts, the minimal-pair property, bands and endings."""

from __future__ import annotations

from collections import Counter

import pytest

from slmscale.errors import UserError
from slmscale.text.grammar import split_words
from slmscale.text.heldout import is_heldout_sentence, is_heldout_story
from slmscale.text.lexicon import LEXICON
from slmscale.text.nonwords import is_real_word, letter_groups, slots
from slmscale.text.pairs import (BANDS, frequency_bands, sblimp_pairs, storycloze_items, swuggy_pairs,
                                 word_counts)
from slmscale.text.pairs_blimp import PHENOMENA
from slmscale.text.stories import make_story


@pytest.fixture(scope="module")
def blimp(blimp_default):
    return blimp_default


@pytest.fixture(scope="module")
def wuggy():
    return swuggy_pairs(300, seed=0, corpus_stories=600)


def _is_minimal(good: str, bad: str) -> bool:
    """Same token count and either one token replaced or two neighbouring tokens swapped."""
    g, b = split_words(good), split_words(bad)
    if len(g) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(g, b)) if x != y]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and g[diff[0]] == b[diff[1]] and g[diff[1]] == b[diff[0]]


def test_minimal_pair_checker_rejects_non_minimal_pairs():
    assert _is_minimal("The cat runs.", "The cat run.")
    assert _is_minimal("Lily was very sad.", "Lily was sad very.")
    assert not _is_minimal("The cat runs.", "The dog run.")
    assert not _is_minimal("The cat runs.", "The cat runs fast.")
    assert not _is_minimal("a b c", "c b a")


def test_sblimp_counts_phenomena_and_subtypes(blimp):
    assert len(PHENOMENA) >= 10
    per = Counter(item.phenomenon for item in blimp)
    assert set(per) == set(PHENOMENA) and set(per.values()) == {100}
    for name, (_, subtypes) in PHENOMENA.items():
        got = Counter(i.subtype for i in blimp if i.phenomenon == name)
        assert set(got) == set(subtypes)
        assert max(got.values()) - min(got.values()) <= 1  # balanced
    assert len({(i.good, i.bad) for i in blimp}) == len(blimp)
    for name in PHENOMENA:  # a good sentence is used once per phenomenon
        goods = [i.good for i in blimp if i.phenomenon == name]
        assert len(set(goods)) == len(goods)
    assert len({i.id for i in blimp}) == len(blimp)


def test_sblimp_pairs_are_minimal_and_held_out(blimp):
    for item in blimp:
        assert item.good != item.bad
        assert _is_minimal(item.good, item.bad), (item.phenomenon, item.good, item.bad)
        assert is_heldout_sentence(item.good)


def test_sblimp_good_sentences_use_lexicon_words_only(blimp):
    words = {w for i in blimp for w in split_words(i.good)}
    assert words <= LEXICON.word_forms, sorted(words - LEXICON.word_forms)


def test_sblimp_specific_phenomena_break_the_right_thing(blimp):
    by = {}
    for i in blimp:
        by.setdefault((i.phenomenon, i.subtype), []).append(i)
    for i in by[("anaphor_gender_agreement", "name_subject")]:
        name = split_words(i.good)[0]
        gender = next(n.gender for n in LEXICON.names if n.word.lower() == name)
        assert ("herself" if gender == "f" else "himself") in split_words(i.good)
        assert ("himself" if gender == "f" else "herself") in split_words(i.bad)
    for i in by[("irregular_past_tense", "overregularised")]:
        verb = split_words(i.bad)[1]
        assert verb.endswith("ed") and verb not in LEXICON.word_forms
    for i in by[("argument_structure", "transitive")]:
        bad_verb = split_words(i.bad)[1]
        assert any(v.past == bad_verb and v.frame == "intransitive" for v in LEXICON.verbs)


def test_sblimp_is_deterministic_and_seed_dependent():
    a = sblimp_pairs(12, seed=5, phenomena=["negation", "quantifiers"])
    assert a == sblimp_pairs(12, seed=5, phenomena=["negation", "quantifiers"])
    assert a != sblimp_pairs(12, seed=6, phenomena=["negation", "quantifiers"])
    # A phenomenon's pairs do not depend on which other phenomena were asked for.
    assert [i for i in a if i.phenomenon == "quantifiers"] == sblimp_pairs(12, seed=5, phenomena=["quantifiers"])
    with pytest.raises(UserError, match="unknown sBLIMP phenomenon"):
        sblimp_pairs(5, seed=0, phenomena=["nope"])


def test_swuggy_nonwords_are_matched_unreal_and_distinct(wuggy):
    assert len(wuggy) == 300
    assert len({i.nonword for i in wuggy}) == 300
    for item in wuggy:
        assert item.nonword not in LEXICON.word_forms
        assert not is_real_word(item.nonword)
        assert len(item.nonword) == len(item.word) == item.length
        assert slots(item.nonword) == slots(item.word)
        assert [len(g) for g in letter_groups(item.nonword)] == [len(g) for g in letter_groups(item.word)]
        assert item.nonword.isalpha() and item.nonword.islower()


def test_swuggy_words_come_from_the_corpus_with_bands(wuggy):
    counts = word_counts(0, 600)
    bands = frequency_bands(counts)
    assert Counter(i.frequency for i in wuggy) == {"high": 100, "mid": 100, "low": 100}
    for item in wuggy:
        assert counts[item.word] == item.count > 0
        assert bands[item.word] == item.frequency
    high = [i.count for i in wuggy if i.frequency == "high"]
    low = [i.count for i in wuggy if i.frequency == "low"]
    assert min(high) >= max(low)


def test_frequency_bands_are_terciles():
    counts = Counter({"aaa": 9, "bbb": 8, "ccc": 7, "ddd": 3, "eee": 2, "fff": 1, "gg": 50})
    assert frequency_bands(counts) == {"aaa": "high", "bbb": "high", "ccc": "mid", "ddd": "mid",
                                       "eee": "low", "fff": "low"}
    assert set(BANDS) == {"high", "mid", "low"}


def test_swuggy_deterministic():
    assert swuggy_pairs(30, seed=2, corpus_stories=200) == swuggy_pairs(30, seed=2, corpus_stories=200)
    assert swuggy_pairs(30, seed=2, corpus_stories=200) != swuggy_pairs(30, seed=3, corpus_stories=200)


def test_storycloze_s_uses_the_schemas_adversarial_ending():
    items = storycloze_items(40, seed=0, kind="s")
    assert items == storycloze_items(40, seed=0, kind="s")
    assert len({i.story_id for i in items}) == 40
    kinds = Counter(i.bad_kind for i in items)
    assert set(kinds) >= {"emotion", "object", "outcome"}
    for i in items:
        story = make_story(0, int(i.story_id.rsplit("-", 1)[1]))
        assert is_heldout_story(story.text)
        assert i.context + " " + i.good_ending == story.text
        assert i.bad_ending == story.bad_ending != i.good_ending
        # Adversarial endings keep the hero (the same name) except when the character is what is wrong.
        hero = story.entities["A"].lower()
        if i.bad_kind != "character":
            assert hero.split()[-1] in i.bad_ending.lower() or hero.split()[-1] in i.context.lower()


def test_storycloze_t_takes_an_ending_from_another_topic():
    s_items = storycloze_items(30, seed=1, kind="s")
    t_items = storycloze_items(30, seed=1, kind="t")
    assert [i.context for i in s_items] == [i.context for i in t_items]
    for i in t_items:
        assert i.bad_kind != i.schema  # the donor story had another schema
        assert i.bad_ending != i.good_ending
    with pytest.raises(UserError):
        storycloze_items(3, seed=0, kind="x")  # type: ignore[arg-type]


def test_items_do_not_depend_on_hash_randomisation():
    import subprocess
    import sys

    code = ("import hashlib, json;"
            "from slmscale.text.pairs import swuggy_pairs, sblimp_pairs, storycloze_items;"
            "items = swuggy_pairs(15, 4, corpus_stories=100) + sblimp_pairs(2, 4) + storycloze_items(3, 4, 't');"
            "print(hashlib.sha256(json.dumps([i.to_dict() for i in items]).encode()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(h), "PATH": ""}).stdout for h in (11, 12)}
    assert len(outs) == 1 and len(next(iter(outs)).strip()) == 64
