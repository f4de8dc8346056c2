"""Pronounceable non-words matched to real words (for the sWUGGY-like lexical task).

A word is cut into alternating consonant and vowel letter groups ("basket" -> b|a|sk|e|t). Each group
has a slot: onset (word-initial consonants), medial consonants, coda (word-final consonants),
nucleus (inner vowels) or final vowel. A non-word replaces about a third of the groups (at least
one) by groups of the same slot and the same letter length that real English words use in that slot
(drawn by how often the lexicon uses them), so it keeps the word's letter length and consonant/vowel
shape and stays phonotactically plausible (Wuggy's idea, done on spelling).

A candidate is rejected if it is a lexicon form, a word of the `english-words` lists (web2 and
GCIDE), or an inflection of one of those (-s, -es, -ed, -ing, -er), so it is not a real word.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from functools import lru_cache
from math import ceil

from slmscale.text.lexicon import LEXICON

_VOWELS = set("aeiou")


def _cut(word: str) -> list[tuple[str, bool]]:
    """Maximal consonant / vowel runs as (letters, is_vowel); 'y' is a vowel except word-initially
    or before a vowel ("yes", "eye": consonant; "sky", "happy": vowel)."""
    groups: list[tuple[str, bool]] = []
    for i, ch in enumerate(word):
        if ch == "y":
            vowel = i > 0 and not (i + 1 < len(word) and word[i + 1] in _VOWELS)
        else:
            vowel = ch in _VOWELS
        if groups and groups[-1][1] == vowel:
            groups[-1] = (groups[-1][0] + ch, vowel)
        else:
            groups.append((ch, vowel))
    return groups


def letter_groups(word: str) -> list[str]:
    """"basket" -> ["b", "a", "sk", "e", "t"]."""
    return [g for g, _ in _cut(word)]


def slots(word: str) -> list[str]:
    """The slot of each letter group: onset, medial, coda, nucleus or final (vowel)."""
    cut = _cut(word)
    last = len(cut) - 1
    out = []
    for i, (_, vowel) in enumerate(cut):
        if vowel:
            out.append("final" if i == last and i > 0 else "nucleus")
        else:
            out.append("onset" if i == 0 else "coda" if i == last else "medial")
    return out


@lru_cache(maxsize=1)
def _inventory() -> dict[tuple[str, int], tuple[list[str], list[int]]]:
    """(slot, length) -> groups seen there in lexicon words, with counts (deterministic order)."""
    counts: dict[tuple[str, int], Counter[str]] = {}
    for word in sorted(LEXICON.word_forms):
        if not word.isalpha():
            continue
        for g, s in zip(letter_groups(word), slots(word)):
            counts.setdefault((s, len(g)), Counter())[g] += 1
    return {key: (sorted(c), [c[g] for g in sorted(c)]) for key, c in counts.items()}


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Known English words: the lexicon's forms plus the english-words lists (lower-case, letters only)."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], lower=True, alpha=True)) | LEXICON.word_forms


_INFLECTION = re.compile(r"^(?P<stem>[a-z]+?)(?:es|s|ed|d|ing|er)$")


def is_real_word(candidate: str) -> bool:
    """True if the candidate or its stem (minus a common inflection, with or without final e) is a word."""
    words = english_words()
    if candidate in words:
        return True
    m = _INFLECTION.match(candidate)
    if m:
        stem = m.group("stem")
        stems = {stem, stem + "e"}
        if len(stem) > 2 and stem[-1] == stem[-2]:
            stems.add(stem[:-1])  # hopped -> hop
        if stem.endswith("i"):
            stems.add(stem[:-1] + "y")  # cried -> cry
        return any(s in words for s in stems)
    return False


def make_nonword(word: str, rng: random.Random, avoid: set[str] | frozenset[str] = frozenset(),
                 attempts: int = 200) -> str | None:
    """A non-word with the same letter length and shape as `word`, or None if none was found."""
    groups = letter_groups(word)
    kinds = slots(word)
    inventory = _inventory()
    n_change = max(1, ceil(len(groups) / 3))
    for _ in range(attempts):
        new = list(groups)
        for i in rng.sample(range(len(groups)), min(n_change, len(groups))):
            options, weights = inventory.get((kinds[i], len(groups[i])), ([groups[i]], [1]))
            new[i] = rng.choices(options, weights)[0]
        candidate = "".join(new)
        if candidate == word or candidate in avoid or _ugly(candidate):
            continue
        # The re-cut must keep the shape (two adjacent groups could merge into one).
        if slots(candidate) != kinds or [len(g) for g in letter_groups(candidate)] != [len(g) for g in groups]:
            continue
        if is_real_word(candidate):
            continue
        return candidate
    return None


def _ugly(candidate: str) -> bool:
    """Spellings English words avoid: a letter three times in a row, or a final 'v', 'j', 'q'."""
    return bool(re.search(r"(.)\1\1", candidate)) or candidate[-1] in "vjq" or "q" in candidate.replace("qu", "")
