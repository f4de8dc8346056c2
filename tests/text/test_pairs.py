"""Benchmark text items: determinism, counts, the minimal-pair property, bands and endings."""

from __future__ import annotations

from collections import Counter

import pytest

from slmscale.errors import UserError
from slmscale.text.grammar import split_words
from slmscale.text.heldout import is_heldout_sentence, is_heldout_story
from slmscale.text.lexicon import LEXICON
from slmscale.text.blimp_check import check_pair
from slmscale.text.nonwords import known_pronunciations
from slmscale.text.phonemes import base_phone, speakable
from slmscale.text.surface import CHANCE_BOUND, accuracies, outcomes
from slmscale.text.pairs import (BANDS, add_seconds, frequency_bands, sblimp_pairs, storycloze_items, swuggy_pairs,
                                 word_counts)
from slmscale.text.pairs_blimp import PHENOMENA
from slmscale.text.stories import make_story


@pytest.fixture(scope="module")
def blimp(blimp_default):
    return blimp_default


@pytest.fixture(scope="module")
def wuggy():
    return swuggy_pairs(150, seed=0, corpus_stories=600)


def test_sblimp_counts_phenomena_and_subtypes(blimp):
    assert len(PHENOMENA) >= 10
    per = Counter(item.phenomenon for item in blimp)
    assert set(per) == set(PHENOMENA) and set(per.values()) == {50}
    for name, (_, subtypes) in PHENOMENA.items():
        got = Counter(i.subtype for i in blimp if i.phenomenon == name)
        assert set(got) == set(subtypes)
        assert max(got.values()) <= -(-1.5 * 50 // len(subtypes))  # at most 1.5x an even share
    assert len({(i.good, i.bad) for i in blimp}) == len(blimp)
    for name in PHENOMENA:  # a good sentence is used once per phenomenon
        goods = [i.good for i in blimp if i.phenomenon == name]
        assert len(set(goods)) == len(goods)
    assert len({i.id for i in blimp}) == len(blimp)


def test_sblimp_pairs_are_minimal_and_held_out(blimp):
    for item in blimp:
        assert item.good != item.bad
        assert is_heldout_sentence(item.good)


def test_sblimp_good_sentences_use_lexicon_words_only(blimp):
    words = {w for i in blimp for w in split_words(i.good)}
    assert words <= LEXICON.word_forms, sorted(words - LEXICON.word_forms)


def test_sblimp_pairs_pass_the_checker(blimp):
    for i in blimp:
        assert check_pair(i.phenomenon, i.good, i.bad) is None


def test_sblimp_is_deterministic_and_seed_dependent():
    a = sblimp_pairs(12, seed=5, phenomena=["binding", "quantifiers"])
    assert a == sblimp_pairs(12, seed=5, phenomena=["binding", "quantifiers"])
    assert a != sblimp_pairs(12, seed=6, phenomena=["binding", "quantifiers"])
    # A phenomenon's pairs do not depend on which other phenomena were asked for.
    assert [i for i in a if i.phenomenon == "quantifiers"] == sblimp_pairs(12, seed=5, phenomena=["quantifiers"])
    with pytest.raises(UserError, match="unknown sBLIMP phenomenon"):
        sblimp_pairs(5, seed=0, phenomena=["nope"])


def test_swuggy_nonwords_are_matched_unreal_and_distinct(wuggy):
    assert len(wuggy) == 150
    assert len({i.nonword for i in wuggy}) == 150
    known = known_pronunciations(extended=False)
    for item in wuggy:
        word, nonword = item.phones.split(), item.nonword_phones.split()
        assert len(word) == len(nonword) == item.length
        assert tuple(base_phone(p) for p in nonword) not in known
        assert item.nonword == "".join(nonword)


def test_swuggy_words_come_from_the_corpus_with_bands(wuggy):
    counts = word_counts(0, 600)
    bands = frequency_bands(counts)
    assert Counter(i.frequency for i in wuggy) == {"high": 50, "mid": 50, "low": 50}
    for item in wuggy:
        assert counts[item.word] == item.count > 0
        assert bands[item.word] == item.frequency
    high = [i.count for i in wuggy if i.frequency == "high"]
    low = [i.count for i in wuggy if i.frequency == "low"]
    assert min(high) >= max(low)


def _audit(task, items, surface, seconds=None):
    """Surface-baseline accuracies as `slmscale bench audit` computes them; `length_seconds` from
    the durations the bench's voices speak the items in (audio.durations gives exactly the wav
    lengths, see tests/audio/test_durations.py)."""
    res, goods, bads = [], [], []
    for i in items:
        if task == "swuggy":
            g = surface.features(i.word, [tuple(i.phones.split())], words_known=False)
            b = surface.features(i.nonword, [tuple(i.nonword_phones.split())], words_known=False)
            goods.append(speakable(i.phones.split()))
            bads.append(speakable(i.nonword_phones.split()))
        elif task == "sblimp":
            g, b = surface.features(i.good), surface.features(i.bad)
            goods.append(i.good)
            bads.append(i.bad)
        else:
            g = surface.features(i.good_ending, context=i.context)
            b = surface.features(i.bad_ending, context=i.context)
            goods.append(i.good_ending)
            bads.append(i.bad_ending)
        res.append(outcomes(g, b))
    return accuracies(add_seconds(res, goods, bads, seconds))


def _within(accs, n):
    """The audit's bound: 0.50 +- 0.05, or one pair's worth for fewer than 20 pairs."""
    return all(abs(a - 0.5) <= max(CHANCE_BOUND, 1 / n) + 1e-9 for a in accs.values())


@pytest.mark.slow
def test_every_builder_is_at_chance_on_the_demo_seed():
    """The tiny demo's bench (seed 0, n 50, the held-out voices): every surface baseline, spoken
    length in seconds included, within 0.50 +- 0.05 within each sBLIMP phenomenon, each sWUGGY
    frequency band, and overall for each StoryCloze task."""
    from slmscale.audio.durations import spoken_seconds
    from slmscale.audio.voices import TEST_VOICES
    from slmscale.text.pairs import surface_model
    from slmscale.text.surface import SurfaceModel

    def seconds(texts):
        return spoken_seconds(texts, TEST_VOICES)

    surface = surface_model(0)
    blimp = sblimp_pairs(50, seed=0, seconds=seconds)
    for phenomenon in PHENOMENA:
        accs = _audit("sblimp", [i for i in blimp if i.phenomenon == phenomenon], surface, seconds)
        assert "length_seconds" in accs and _within(accs, 50), (phenomenon, accs)
    wug = swuggy_pairs(50, seed=0, extended_homophones=True, seconds=seconds)
    wug_surface = SurfaceModel.from_counts(word_counts(0), exclude={i.word for i in wug})
    for band in BANDS:
        items = [i for i in wug if i.frequency == band]
        accs = _audit("swuggy", items, wug_surface, seconds)
        assert _within(accs, len(items)), (band, accs)
    for kind in ("s", "t"):
        accs = _audit("cloze", storycloze_items(50, seed=0, kind=kind, seconds=seconds), surface, seconds)
        assert _within(accs, 50), (kind, accs)


def test_swuggy_at_the_default_size_is_at_chance_in_every_band():
    """`synth bench`'s default n = 300 takes a third of each band's words, so every pick moves the
    n-grams it is judged by; the refinement judges each candidate word as if it were left out too,
    and every band ends within the audit's bounds (it ended at 0.60 when it could not)."""
    from slmscale.text.surface import SurfaceModel

    wug = swuggy_pairs(300, seed=0)
    assert len({i.word for i in wug}) == 300
    surface = SurfaceModel.from_counts(word_counts(0), exclude={i.word for i in wug})
    assert _within(_audit("swuggy", wug, surface), 300)
    for band in BANDS:
        items = [i for i in wug if i.frequency == band]
        assert len(items) == 100 and _within(_audit("swuggy", items, surface), 100), band


def test_builders_balance_the_spoken_length_they_are_given():
    """Durations that no text baseline predicts (a hash of the text) are balanced like any cue, and
    the pick depends on them."""
    import hashlib

    def seconds(texts):
        return [(hashlib.sha256(t.encode()).digest()[0] / 64,) for t in texts]

    items = storycloze_items(20, seed=0, kind="s", corpus_stories=300, seconds=seconds)
    res = add_seconds([{} for _ in items], [i.good_ending for i in items], [i.bad_ending for i in items],
                      seconds)
    plain = storycloze_items(20, seed=0, kind="s", corpus_stories=300)
    unbalanced = add_seconds([{} for _ in plain], [i.good_ending for i in plain], [i.bad_ending for i in plain],
                             seconds)
    assert abs(accuracies(res)["length_seconds"] - 0.5) <= 0.05
    assert abs(accuracies(unbalanced)["length_seconds"] - 0.5) > 0.05 and items != plain


def test_frequency_bands_are_terciles():
    counts = Counter({"aaa": 9, "bbb": 8, "ccc": 7, "ddd": 3, "eee": 2, "fff": 1, "gg": 50})
    assert frequency_bands(counts) == {"aaa": "high", "bbb": "high", "ccc": "mid", "ddd": "mid",
                                       "eee": "low", "fff": "low"}
    assert set(BANDS) == {"high", "mid", "low"}


def test_swuggy_deterministic():
    assert swuggy_pairs(30, seed=2, corpus_stories=200) == swuggy_pairs(30, seed=2, corpus_stories=200)
    assert swuggy_pairs(30, seed=2, corpus_stories=200) != swuggy_pairs(30, seed=3, corpus_stories=200)


def test_storycloze_s_uses_the_schemas_adversarial_ending():
    items = storycloze_items(40, seed=0, kind="s", corpus_stories=300)
    assert items == storycloze_items(40, seed=0, kind="s", corpus_stories=300)
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
    t_items = storycloze_items(30, seed=1, kind="t", corpus_stories=300)
    assert len({i.context for i in t_items}) == 30
    for i in t_items:
        assert i.bad_kind != i.schema  # the donor story had another schema
        assert i.bad_ending != i.good_ending
    with pytest.raises(UserError):
        storycloze_items(3, seed=0, kind="x")  # type: ignore[arg-type]


def test_items_do_not_depend_on_hash_randomisation():
    import os
    import subprocess
    import sys

    path = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}  # the code under test

    code = ("import hashlib, json;"
            "from slmscale.text.pairs import swuggy_pairs, sblimp_pairs, storycloze_items;"
            "items = swuggy_pairs(15, 4, corpus_stories=100) + sblimp_pairs(2, 4, corpus_stories=100)"
            " + storycloze_items(3, 4, 't', corpus_stories=100);"
            "print(hashlib.sha256(json.dumps([i.to_dict() for i in items]).encode()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(h), "PATH": "", **path}).stdout for h in (11, 12)}
    assert len(outs) == 1 and len(next(iter(outs)).strip()) == 64
