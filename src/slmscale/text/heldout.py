"""The held-out partition: a fixed, seed-independent slice of all stories and sentences.

Benchmarks draw only from it; training corpora skip it. Membership is decided by a SHA-256 of the
normalised word sequence (`normalize_key`), so it is the same in every process and for every seed,
and two texts that sound the same (differ only in case or punctuation) always land on the same side.
"""

from __future__ import annotations

import hashlib

from slmscale.text.grammar import normalize_key

STORY_HELDOUT_FRACTION = 1 / 16
SENTENCE_HELDOUT_FRACTION = 1 / 32


def _unit_hash(salt: str, text: str) -> float:
    """Uniform number in [0, 1) from the text's normalised words."""
    digest = hashlib.sha256(f"{salt}\x00{normalize_key(text)}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def content_hash(text: str) -> str:
    """Short stable id of a text's word sequence (for ids and de-duplication)."""
    return hashlib.sha256(normalize_key(text).encode("utf-8")).hexdigest()[:16]


def is_heldout_story(text: str) -> bool:
    """True if the whole story belongs to the benchmark partition (StoryCloze-like items)."""
    return _unit_hash("slmscale-story", text) < STORY_HELDOUT_FRACTION


def is_heldout_sentence(sentence: str) -> bool:
    """True if the sentence belongs to the benchmark partition (sBLIMP-like items)."""
    return _unit_hash("slmscale-sentence", sentence) < SENTENCE_HELDOUT_FRACTION


def is_heldout(text: str) -> bool:
    """Alias of `is_heldout_story` for whole texts."""
    return is_heldout_story(text)
