"""Text versions of the four benchmarks, built from the corpus lexicon and story generator.

- `swuggy_pairs(n, seed)`: corpus word vs a Wuggy-style non-word made from its pronunciation, with
  the word's frequency band in a training-corpus sample of the same seed.
- `sblimp_pairs(per_phenomenon, seed)`: grammatical vs ungrammatical minimal pairs in BLiMP's 12
  categories, each pair checked by `blimp_check`.
- `storycloze_items(n, seed, kind)`: held-out story context with its real ending vs a wrong ending:
  kind "s" = the schema's coherent-but-wrong ending, kind "t" = the ending of a story of another schema.
Every builder picks its items from a larger pool so that the knowledge-free baselines of
`text.surface` (length, word/phone frequency, word overlap) answer near chance.

Everything is deterministic from the seed (own `random.Random` per task), and only the held-out
partition is used, so no good sBLIMP sentence and no StoryCloze story is in a training corpus.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Iterable, Literal

from slmscale.errors import UserError
from slmscale.text.grammar import split_words
from slmscale.text.heldout import content_hash, is_heldout_sentence
from slmscale.text.lexicon import LEXICON
from slmscale.text.blimp_check import check_pair
from slmscale.text.nonwords import known_pronunciations, lexicon_words, make_nonword, segment_model
from slmscale.text.pairs_blimp import PHENOMENA
from slmscale.text.phonemes import base_phone, phonemize
from slmscale.text.stories import generate_stories, iter_stories
from slmscale.text.surface import Balancer, SurfaceModel, balanced_subset, improve, outcomes, warm

BANDS = ("high", "mid", "low")
# A paradigm may hold up to this multiple of its even share of a phenomenon's pairs, so paradigms
# whose pairs lean one way on a surface baseline can be offset by the others.
SUBTYPE_SHARE = 1.5


@dataclass(frozen=True)
class WuggyItem:
    id: str
    word: str
    nonword: str  # the non-word's phones written together (it has no spelling): "b'0skI2z"
    frequency: str  # "high" | "mid" | "low": tercile of the word's count in the corpus sample
    count: int  # occurrences of the word in the corpus sample
    length: int  # phones (word and non-word have the same)
    phones: str | None = None  # the word's phones, space-separated (espeak-ng mnemonics)
    nonword_phones: str | None = None  # the non-word's phones, space-separated

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
    return Counter(dict(_word_counts(seed, n_stories)))


@lru_cache(maxsize=4)
def _word_counts(seed: int, n_stories: int) -> tuple[tuple[str, int], ...]:
    names = {n.word.lower() for n in LEXICON.names}
    counts: Counter[str] = Counter()
    for story in generate_stories(n_stories, seed):
        counts.update(w for w in split_words(story.text) if w.isalpha() and w not in names)
    return tuple(counts.items())


def frequency_bands(counts: Counter[str], min_length: int = 3) -> dict[str, str]:
    """Tercile band of each word of at least `min_length` letters, by count (ties broken alphabetically)."""
    ranked = sorted((w for w in counts if len(w) >= min_length), key=lambda w: (-counts[w], w))
    third = max(1, -(-len(ranked) // 3))
    return {w: BANDS[min(i // third, 2)] for i, w in enumerate(ranked)}


def surface_model(seed: int, corpus_stories: int = 2000, exclude: Iterable[str] = ()) -> SurfaceModel:
    """Surface baselines fitted on the training corpus sample of `seed` (see text.surface)."""
    return SurfaceModel.from_counts(word_counts(seed, corpus_stories), exclude=exclude)


def _balanced(pool: list, feats: list[tuple[dict, dict]], n: int, group, groups, share: float = 1.0) -> list:
    results = [outcomes(g, b) for g, b in feats]
    return [pool[i] for i in balanced_subset(pool, results, n, group=group, groups=groups, share=share)]


def swuggy_pairs(n: int, seed: int, corpus_stories: int = 2000, pool_factor: int = 3,
                 extended_homophones: bool = False) -> list[WuggyItem]:
    """`n` word/non-word pairs, bands balanced (high, mid, low in turn), chosen from a pool of
    `pool_factor`·n so that every surface baseline (phone n-grams fitted on the corpus words with
    all pool words left out) is near chance. Non-words are made from the words' pronunciations
    (text.nonwords) and are no homophone of a lexicon word (nor, with `extended_homophones`, of
    an english-words entry)."""
    if n < 1:
        raise UserError(f"number of sWUGGY pairs must be >= 1, got {n}")
    counts = word_counts(seed, corpus_stories)
    bands = frequency_bands(counts)
    rng = random.Random(f"slmscale-swuggy/{seed}")
    queues = {b: sorted(w for w, band in bands.items() if band == b) for b in BANDS}
    for words in queues.values():
        rng.shuffle(words)
    prons = phonemize(sorted(bands))
    model = segment_model(tuple(lexicon_words()))
    known = known_pronunciations(extended_homophones)
    used: set[tuple[str, ...]] = set()
    pool: list[WuggyItem] = []
    want = n * pool_factor
    # One non-word per word, bands in turn; each word serves once (a bigger n needs a bigger corpus).
    cursors = {b: iter(queues[b]) for b in BANDS}
    while len(pool) < want:
        made = 0
        for band in BANDS:
            for word in cursors[band]:
                phones = prons[word]
                if len(phones) < 3:
                    continue
                nonword = make_nonword(phones, rng, model, known, avoid=used)
                if nonword is None:
                    continue
                used.add(tuple(base_phone(p) for p in nonword))
                pool.append(WuggyItem("", word, "".join(nonword), band, counts[word], len(phones),
                                      " ".join(phones), " ".join(nonword)))
                made += 1
                break
        if not made:
            break
    if len(pool) < n:
        raise UserError(f"could make only {len(pool)} distinct sWUGGY pairs for seed {seed}; ask for fewer")
    # The audit leaves out the benchmark's words; so, after a first pick with every pool word left
    # out, the pick is refined with the n-grams the audit will use (the chosen words left out).
    exclude = {it.word for it in pool}
    chosen: list[int] = []
    for _ in range(2):
        surface = SurfaceModel.from_counts(counts, exclude=exclude)
        results = [outcomes(surface.features(it.word, [tuple(it.phones.split())], words_known=False),  # type: ignore[union-attr]
                            surface.features(it.nonword, [tuple(it.nonword_phones.split())], words_known=False))  # type: ignore[union-attr]
                   for it in pool]
        bands_of = [it.frequency for it in pool]
        chosen = (improve(chosen, results, bands_of) if chosen else
                  balanced_subset(pool, results, n, group=lambda it: it.frequency, groups=BANDS))
        exclude = {pool[i].word for i in chosen}
    return [replace(pool[i], id=f"w{k:05d}") for k, i in enumerate(chosen)]


def sblimp_pairs(per_phenomenon: int = 100, seed: int = 0, phenomena: list[str] | None = None,
                 corpus_stories: int = 2000, pool_factor: int = 6) -> list[BlimpItem]:
    """`per_phenomenon` distinct minimal pairs for each phenomenon, every subtype present, each checked
    (blimp_check) and chosen from a pool of `pool_factor` times as many so that every surface
    baseline (length, word and phone n-gram frequencies) is near chance within the phenomenon."""
    if per_phenomenon < 1:
        raise UserError(f"pairs per phenomenon must be >= 1, got {per_phenomenon}")
    names = phenomena or list(PHENOMENA)
    unknown = [p for p in names if p not in PHENOMENA]
    if unknown:
        raise UserError(f"unknown sBLIMP phenomenon {unknown[0]!r}; known: {', '.join(PHENOMENA)}")
    surface = surface_model(seed, corpus_stories)
    items: list[BlimpItem] = []
    for phenomenon in names:
        gen, subtypes = PHENOMENA[phenomenon]
        rng = random.Random(f"slmscale-sblimp/{seed}/{phenomenon}")
        seen: set[str] = set()
        pool: list[BlimpItem] = []
        per_sub = pool_factor * -(-per_phenomenon // len(subtypes))
        for subtype in subtypes:
            for i in range(per_sub):
                for _ in range(20000):
                    good, bad = gen(rng, subtype)
                    if good not in seen and is_heldout_sentence(good):
                        break
                else:
                    raise UserError(f"sBLIMP {phenomenon}/{subtype}: could make only {i} distinct held-out "
                                    "pairs; ask for fewer pairs per phenomenon")
                problem = check_pair(phenomenon, good, bad)
                if problem:  # the generator and the checker disagree: a bug, never a benchmark item
                    raise AssertionError(f"sBLIMP {phenomenon}/{subtype}: {problem}")
                seen.add(good)
                pool.append(BlimpItem("", good, bad, phenomenon, subtype))
        warm(it.good + " " + it.bad for it in pool)
        feats = [(surface.features(it.good), surface.features(it.bad)) for it in pool]
        chosen = _balanced(pool, feats, per_phenomenon, lambda it: it.subtype, subtypes, share=SUBTYPE_SHARE)
        chosen.sort(key=lambda it: subtypes.index(it.subtype))
        items += [replace(it, id=f"{phenomenon}-{i:05d}") for i, it in enumerate(chosen)]
    return items


def storycloze_items(n: int, seed: int, kind: Literal["s", "t"] = "s", corpus_stories: int = 2000,
                     pool_factor: int = 4) -> list[ClozeItem]:
    """`n` items from held-out stories of `seed`: context, real ending, and a wrong ending, chosen so
    that the surface baselines (word overlap with the context, length, word and phone frequencies)
    are near chance: kind "s" picks stories from a pool of `pool_factor`·n, kind "t" picks for
    each story the donor ending (another schema's) that keeps the baselines balanced."""
    if kind not in ("s", "t"):
        raise UserError(f"StoryCloze kind must be 's' or 't', got {kind!r}")
    if n < 1:
        raise UserError(f"number of StoryCloze items must be >= 1, got {n}")
    surface = surface_model(seed, corpus_stories)
    pool = list(itertools.islice(_distinct(iter_stories(seed, "heldout")), max(n * pool_factor, 50)))
    warm(s.text + " " + s.bad_ending for s in pool)
    if kind == "s":
        cands = [ClozeItem("", s.id, s.context, s.ending, s.bad_ending, "s", s.bad_kind, s.schema) for s in pool]
        feats = [(surface.features(c.good_ending, context=c.context),
                  surface.features(c.bad_ending, context=c.context)) for c in cands]
        chosen = _balanced(cands, feats, n, None, ())
        return [replace(c, id=f"ssc-{i:05d}") for i, c in enumerate(chosen)]
    # t: the wrong ending is the real ending of another held-out story with another schema, as in
    # the topic StoryCloze; of up to 100 seeded donors, the one that keeps the baselines balanced.
    rng = random.Random(f"slmscale-tstorycloze/{seed}")
    bal = Balancer()
    items = []
    for i, s in enumerate(pool[:n]):
        donors = [d for d in pool if d.schema != s.schema and d.ending != s.ending]
        donors = rng.sample(donors, min(100, len(donors)))
        good = surface.features(s.ending, context=s.context)
        results = [outcomes(good, surface.features(d.ending, context=s.context)) for d in donors]
        k = bal.best(results)
        bal.add(results[k])
        items.append(ClozeItem(f"tsc-{i:05d}", s.id, s.context, s.ending, donors[k].ending, "t", donors[k].schema,
                               s.schema))
    return items


def _distinct(stories):  # type: ignore[no-untyped-def]
    """Drop stories whose words repeat an earlier one (keeps items unique)."""
    seen: set[str] = set()
    for s in stories:
        key = content_hash(s.text)
        if key not in seen:
            seen.add(key)
            yield s
