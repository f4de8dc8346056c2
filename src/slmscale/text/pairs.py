"""Text versions of the four benchmarks, built from the corpus lexicon and story generator.

- `swuggy_pairs(n, seed)`: corpus word vs matched pronounceable non-word, with the word's frequency
  band in a training-corpus sample of the same seed.
- `sblimp_pairs(per_phenomenon, seed)`: grammatical vs ungrammatical minimal pairs, 12 phenomena.
- `storycloze_items(n, seed, kind)`: held-out story context with its real ending vs a wrong ending:
  kind "s" = the schema's coherent-but-wrong ending, kind "t" = the ending of a story of another schema.

Everything is deterministic from the seed (own `random.Random` per task), and only the held-out
partition is used, so no good sBLIMP sentence and no StoryCloze story is in a training corpus.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Literal

from slmscale.errors import UserError
from slmscale.text.grammar import split_words
from slmscale.text.heldout import content_hash, is_heldout_sentence
from slmscale.text.lexicon import LEXICON
from slmscale.text.nonwords import make_nonword
from slmscale.text.pairs_blimp import PHENOMENA
from slmscale.text.stories import generate_stories, iter_stories

BANDS = ("high", "mid", "low")


@dataclass(frozen=True)
class WuggyItem:
    id: str
    word: str
    nonword: str
    frequency: str  # "high" | "mid" | "low": tercile of the word's count in the corpus sample
    count: int  # occurrences of the word in the corpus sample
    length: int  # letters (word and non-word have the same)
    phones: str | None = None  # filled by the speech side if it has a phonemiser

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BlimpItem:
    id: str
    good: str
    bad: str
    phenomenon: str  # ZeroSpeech "type"
    subtype: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ClozeItem:
    id: str
    story_id: str
    context: str
    good_ending: str
    bad_ending: str
    kind: str  # "s" (adversarial ending from the same story) or "t" (ending of another story)
    bad_kind: str  # s: emotion | object | character | outcome; t: the other story's schema
    schema: str

    def to_dict(self) -> dict:
        return asdict(self)


def word_counts(seed: int, n_stories: int = 2000) -> Counter[str]:
    """Word counts over the first `n_stories` training stories of `seed` (names and 's-forms left out)."""
    names = {n.word.lower() for n in LEXICON.names}
    counts: Counter[str] = Counter()
    for story in generate_stories(n_stories, seed):
        counts.update(w for w in split_words(story.text) if w.isalpha() and w not in names)
    return counts


def frequency_bands(counts: Counter[str], min_length: int = 3) -> dict[str, str]:
    """Tercile band of each word of at least `min_length` letters, by count (ties broken alphabetically)."""
    ranked = sorted((w for w in counts if len(w) >= min_length), key=lambda w: (-counts[w], w))
    third = max(1, -(-len(ranked) // 3))
    return {w: BANDS[min(i // third, 2)] for i, w in enumerate(ranked)}


def swuggy_pairs(n: int, seed: int, corpus_stories: int = 2000) -> list[WuggyItem]:
    """`n` word/non-word pairs, bands balanced (round-robin high, mid, low), each non-word distinct."""
    if n < 1:
        raise UserError(f"number of sWUGGY pairs must be >= 1, got {n}")
    counts = word_counts(seed, corpus_stories)
    bands = frequency_bands(counts)
    rng = random.Random(f"slmscale-swuggy/{seed}")
    queues = {b: sorted(w for w, band in bands.items() if band == b) for b in BANDS}
    for words in queues.values():
        rng.shuffle(words)
    used: set[str] = set()
    items: list[WuggyItem] = []
    # Each pass over the words gives every word one more non-word, so large n still works.
    for round_ in itertools.count():
        progress = False
        cursors = {b: iter(queues[b]) for b in BANDS}
        while len(items) < n:
            made = 0
            for band in BANDS:
                for word in cursors[band]:
                    nonword = make_nonword(word, rng, avoid=used)
                    if nonword is None:
                        continue
                    used.add(nonword)
                    items.append(WuggyItem(f"w{len(items):05d}", word, nonword, band, counts[word], len(word)))
                    made += 1
                    break
                if len(items) >= n:
                    break
            if not made:
                break
            progress = True
        if len(items) >= n:
            return items
        if not progress or round_ > 50:
            raise UserError(f"could make only {len(items)} distinct sWUGGY pairs for seed {seed}; ask for fewer")
    raise AssertionError("unreachable")


def sblimp_pairs(per_phenomenon: int = 100, seed: int = 0, phenomena: list[str] | None = None) -> list[BlimpItem]:
    """`per_phenomenon` distinct minimal pairs for each phenomenon, subtypes in turn."""
    if per_phenomenon < 1:
        raise UserError(f"pairs per phenomenon must be >= 1, got {per_phenomenon}")
    names = phenomena or list(PHENOMENA)
    unknown = [p for p in names if p not in PHENOMENA]
    if unknown:
        raise UserError(f"unknown sBLIMP phenomenon {unknown[0]!r}; known: {', '.join(PHENOMENA)}")
    items: list[BlimpItem] = []
    for phenomenon in names:
        gen, subtypes = PHENOMENA[phenomenon]
        rng = random.Random(f"slmscale-sblimp/{seed}/{phenomenon}")
        seen: set[str] = set()
        for i in range(per_phenomenon):
            subtype = subtypes[i % len(subtypes)]
            for _ in range(5000):
                good, bad = gen(rng, subtype)
                if good not in seen and good != bad and is_heldout_sentence(good):
                    break
            else:
                raise UserError(f"sBLIMP {phenomenon}/{subtype}: could make only {i} distinct held-out pairs; "
                                "ask for fewer pairs per phenomenon")
            seen.add(good)
            items.append(BlimpItem(f"{phenomenon}-{i:05d}", good, bad, phenomenon, subtype))
    return items


def storycloze_items(n: int, seed: int, kind: Literal["s", "t"] = "s") -> list[ClozeItem]:
    """`n` items from held-out stories of `seed`: context, real ending, and a wrong ending."""
    if kind not in ("s", "t"):
        raise UserError(f"StoryCloze kind must be 's' or 't', got {kind!r}")
    if n < 1:
        raise UserError(f"number of StoryCloze items must be >= 1, got {n}")
    # t needs a pool of other endings: the items' own stories (at least 50, for small n).
    pool = list(itertools.islice(_distinct(iter_stories(seed, "heldout")), n if kind == "s" else max(n, 50)))
    stories = pool[:n]
    if kind == "s":
        return [ClozeItem(f"ssc-{i:05d}", s.id, s.context, s.ending, s.bad_ending, "s", s.bad_kind, s.schema)
                for i, s in enumerate(stories)]
    # t: the wrong ending is the real ending of another held-out story with another schema, drawn by
    # a seeded RNG, as in the topic StoryCloze where the wrong ending comes from a different story.
    rng = random.Random(f"slmscale-tstorycloze/{seed}")
    items = []
    for i, s in enumerate(stories):
        candidates = [d for d in pool if d.schema != s.schema and d.ending != s.ending]
        donor = rng.choice(candidates)
        items.append(ClozeItem(f"tsc-{i:05d}", s.id, s.context, s.ending, donor.ending, "t", donor.schema, s.schema))
    return items


def _distinct(stories):  # type: ignore[no-untyped-def]
    """Drop stories whose words repeat an earlier one (keeps items unique)."""
    seen: set[str] = set()
    for s in stories:
        key = content_hash(s.text)
        if key not in seen:
            seen.add(key)
            yield s
