"""No benchmark sentence or story appears verbatim in a training corpus made with the same seed."""

from __future__ import annotations

import pytest

from slmscale.text.grammar import normalize_key
from slmscale.text.heldout import (SENTENCE_HELDOUT_FRACTION, STORY_HELDOUT_FRACTION, content_hash,
                                   is_heldout, is_heldout_sentence, is_heldout_story)
from slmscale.text.pairs import storycloze_items
from slmscale.text.stories import generate_stories


@pytest.fixture(scope="module")
def training():
    """A realistic small corpus: 2500 training stories (about 25 hours of speech at espeak rates)."""
    stories = generate_stories(2500, seed=0) + generate_stories(300, seed=1)
    sentences = {normalize_key(s) for story in stories for s in story.sentences}
    texts = {normalize_key(story.text) for story in stories}
    return sentences, texts


def test_no_sblimp_sentence_in_training(training, blimp_default):
    sentences, texts = training
    items = blimp_default
    for item in items:
        assert normalize_key(item.good) not in sentences, item.good
        assert normalize_key(item.bad) not in sentences, item.bad
    # Sanity: the check can fail — ordinary training sentences are found in the set.
    assert normalize_key(generate_stories(1, seed=0)[0].sentences[1]) in sentences


def test_no_storycloze_story_in_training(training):
    sentences, texts = training
    for kind in ("s", "t"):
        for item in storycloze_items(60, seed=0, kind=kind):  # type: ignore[arg-type]
            assert normalize_key(item.context + " " + item.good_ending) not in texts
            assert normalize_key(item.context + " " + item.bad_ending) not in texts


def test_partition_is_by_words_not_by_case_or_punctuation():
    for text in ["Lily had a red ball.", "Tom ran to the park!", "The cat was happy."]:
        variants = [text, text.upper(), text.rstrip(".!") + "?", "  " + text.lower() + "  "]
        assert len({is_heldout_story(v) for v in variants}) == 1
        assert len({is_heldout_sentence(v) for v in variants}) == 1
        assert len({content_hash(v) for v in variants}) == 1
        assert is_heldout(text) == is_heldout_story(text)


def test_partition_fractions_match_their_settings():
    texts = [f"Story number {i} is about a dog." for i in range(8000)]
    story_frac = sum(map(is_heldout_story, texts)) / len(texts)
    sent_frac = sum(map(is_heldout_sentence, texts)) / len(texts)
    assert abs(story_frac - STORY_HELDOUT_FRACTION) < 0.015
    assert abs(sent_frac - SENTENCE_HELDOUT_FRACTION) < 0.01
