"""Sound-shaped non-words for the sWUGGY-like lexical task, made the way Wuggy makes them.

Wuggy (Keuleers & Brysbaert 2010) works on syllabified pronunciations: each syllable is cut into
onset, nucleus and coda, and a pseudo-word keeps the word's syllable structure while some of those
sub-syllabic segments are replaced, choosing replacements so that the transition frequencies
between consecutive segments stay close to the word's. Here, on espeak-ng transcriptions:

- `syllabify(phones)`: vowels are nuclei; a consonant cluster between two vowels gives the next
  syllable the longest onset that begins some lexicon word (maximal onset), the rest is a coda.
- `SegmentModel` (from the lexicon's pronunciations): how often each segment fills each slot, by
  slot kind (onset / nucleus / coda), place in the word (first / inner / last syllable) and length
  in phones; and how often each segment follows each other one (segment bigrams).
- `make_nonword(word_phones, ...)`: about a third of the non-empty segments (at least one) are
  replaced by segments of the same slot, place and phone count, drawn by frequency, whose
  transitions to their neighbours exist in the lexicon; of several candidates the one whose summed
  log transition frequency is closest to the word's is kept. So the non-word has the word's
  syllable structure, stress pattern and length in phones.
- A candidate whose stress-free pronunciation is a known word's (the lexicon plus the
  `english-words` lists, phonemised) is rejected: no homophones of words.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from slmscale.text.lexicon import LEXICON
from slmscale.text.phonemes import STRESS, base_phone, is_vowel, phonemize, pronunciations

Segment = tuple[str, ...]  # stress-free phones of one onset, nucleus or coda ("" = empty)
SLOTS = ("onset", "nucleus", "coda")


@dataclass(frozen=True)
class Syllable:
    onset: Segment
    nucleus: Segment
    coda: Segment
    stress: str = ""  # "'" or "," on the nucleus, or ""


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Known English words: the lexicon's forms plus the english-words lists (lower-case, letters only)."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], lower=True, alpha=True)) | LEXICON.word_forms


def lexicon_words() -> list[str]:
    return sorted(w for w in LEXICON.word_forms if w.isalpha())


@lru_cache(maxsize=4)
def legal_onsets(words: tuple[str, ...]) -> frozenset[Segment]:
    """Consonant clusters that begin some word (the maximal-onset rule uses them)."""
    out = set()
    for phones in phonemize(words).values():
        onset = []
        for p in phones:
            if is_vowel(p):
                break
            onset.append(base_phone(p))
        out.add(tuple(onset))
    return frozenset(out)


def syllabify(phones: Sequence[str], onsets: frozenset[Segment]) -> list[Syllable]:
    """Split a pronunciation into syllables (empty list if it has no vowel)."""
    vowels = [i for i, p in enumerate(phones) if is_vowel(p)]
    if not vowels:
        return []
    base = [base_phone(p) for p in phones]
    cuts = [0]  # first phone of each syllable
    for a, b in zip(vowels, vowels[1:]):
        cluster = base[a + 1:b]
        split = len(cluster)  # all consonants go to the next onset if that onset is legal
        for k in range(len(cluster) + 1):
            if tuple(cluster[k:]) in onsets:
                split = k
                break
        cuts.append(a + 1 + split)
    cuts.append(len(phones))
    out = []
    for s, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
        v = vowels[s]
        stress = phones[v][0] if phones[v][0] in STRESS else ""
        out.append(Syllable(tuple(base[lo:v]), (base[v],), tuple(base[v + 1:hi]), stress))
    return out


def _place(i: int, n: int) -> str:
    return "only" if n == 1 else "first" if i == 0 else "last" if i == n - 1 else "inner"


def segments(sylls: list[Syllable]) -> list[tuple[str, Segment]]:
    """(slot key, segment) in order; the slot key holds the slot kind and the syllable's place."""
    out = []
    for i, s in enumerate(sylls):
        place = _place(i, len(sylls))
        out += [(f"onset/{place}", s.onset), (f"nucleus/{place}", s.nucleus), (f"coda/{place}", s.coda)]
    return out


class SegmentModel:
    """Segment frequencies per (slot key, phone count) and segment bigram counts of a lexicon."""

    def __init__(self, words: Iterable[str]):
        words = tuple(sorted(set(words)))
        self.onsets = legal_onsets(words)
        self.fill: dict[tuple[str, int], Counter[Segment]] = {}
        self.bigrams: Counter[tuple[Segment, Segment]] = Counter()
        for phones in phonemize(words).values():
            segs = segments(syllabify(phones, self.onsets))
            for key, seg in segs:
                self.fill.setdefault((key, len(seg)), Counter())[seg] += 1
            for (_, a), (_, b) in zip(segs, segs[1:]):
                self.bigrams[(a, b)] += 1
        # deterministic option lists for weighted draws
        self.options = {k: (sorted(c), [c[s] for s in sorted(c)]) for k, c in self.fill.items()}

    def transition_score(self, segs: Sequence[Segment]) -> float | None:
        """Summed log bigram count along the chain; None if a transition never occurs."""
        total = 0.0
        for a, b in zip(segs, segs[1:]):
            c = self.bigrams.get((a, b), 0)
            if c == 0:
                return None
            total += math.log(c)
        return total


@lru_cache(maxsize=2)
def segment_model(words: tuple[str, ...]) -> SegmentModel:
    return SegmentModel(words)


def build(sylls: list[Syllable], segs: Sequence[Segment]) -> tuple[str, ...]:
    """Phones of a syllable chain (stress marks back on their nuclei)."""
    out: list[str] = []
    for i, s in enumerate(sylls):
        onset, nucleus, coda = segs[3 * i:3 * i + 3]
        out += list(onset) + [s.stress + nucleus[0]] + list(coda)
    return tuple(out)


def known_pronunciations(extended: bool = True) -> frozenset[tuple[str, ...]]:
    """Stress-free pronunciations of the lexicon (and, with `extended`, of the english-words lists)."""
    return pronunciations(english_words() if extended else frozenset(lexicon_words()))


def make_nonword(word_phones: Sequence[str], rng: random.Random, model: SegmentModel,
                 known: frozenset[tuple[str, ...]], avoid: set[tuple[str, ...]] | frozenset = frozenset(),
                 candidates: int = 12, attempts: int = 300) -> tuple[str, ...] | None:
    """A pseudo-word for `word_phones` (phones with stress), or None if none was found."""
    sylls = syllabify(word_phones, model.onsets)
    if not sylls:
        return None
    keyed = segments(sylls)
    segs = [s for _, s in keyed]
    target = model.transition_score(segs)
    filled = [i for i, s in enumerate(segs) if s]
    n_change = max(1, round(len(filled) / 3))
    found: list[tuple[float, tuple[str, ...]]] = []
    for _ in range(attempts):
        new = list(segs)
        for i in rng.sample(filled, min(n_change, len(filled))):
            opts, weights = model.options.get((keyed[i][0], len(segs[i])), ([segs[i]], [1]))
            new[i] = rng.choices(opts, weights)[0]
        if new == segs:
            continue
        score = model.transition_score(new)
        if score is None:
            continue
        phones = build(sylls, new)
        flat = tuple(base_phone(p) for p in phones)
        if flat in known or flat in avoid or any(f == phones for _, f in found):
            continue
        found.append((abs(score - (target if target is not None else score)), phones))
        if len(found) >= candidates:
            break
    if not found:
        return None
    return min(found, key=lambda t: (t[0], t[1]))[1]
