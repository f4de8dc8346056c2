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
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Callable, Iterable, Literal, Sequence

from slmscale.errors import UserError
from slmscale.text.grammar import split_words
from slmscale.text.heldout import content_hash, is_heldout_sentence
from slmscale.text.lexicon import LEXICON
from slmscale.text.blimp_check import check_pair
from slmscale.text.nonwords import known_pronunciations, lexicon_words, make_nonword, segment_model
from slmscale.text.pairs_blimp import PHENOMENA
from slmscale.text.phonemes import base_phone, phonemize, speakable
from slmscale.text.stories import generate_stories, iter_stories
from slmscale.text.surface import CHANCE_BOUND, Balancer, SurfaceModel, balanced_subset, compare, improve, outcomes, warm

BANDS = ("high", "mid", "low")
# Per text, its spoken duration (s) in each benchmark voice: `audio.durations.spoken_seconds` bound
# to the voices. Given to a builder, it balances the audit's `length_seconds` baseline too.
Seconds = Callable[[Sequence[str]], Sequence[Sequence[float]]]
# sBLIMP: candidates per pair that are timed (the text baselines preselect them from the pool).
TIMED_FACTOR = 6
# Share of the audit's bound the builders aim for on spoken length (see sblimp_pairs).
SECONDS_MARGIN = 0.5
# sWUGGY: refinements of the pick under the n-grams that leave the picked words out.
SWUGGY_ROUNDS = 6
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


def _balanced(pool: list, results: list[dict[str, float]], n: int, group, groups, share: float = 1.0,
              tol: float | None = None) -> list:
    return [pool[i] for i in balanced_subset(pool, results, n, group=group, groups=groups, share=share, tol=tol)]


def add_seconds(results: list[dict[str, float]], goods: Sequence[str], bads: Sequence[str],
                seconds: Seconds | None) -> list[dict[str, float]]:
    """Add each pair's `length_seconds` outcome as the audit scores it (the shorter recording wins,
    averaged over voices); unchanged without `seconds`."""
    if seconds is None:
        return results
    n = len(goods)
    durs = seconds([*goods, *bads])
    for r, g, b in zip(results, durs[:n], durs[n:]):
        r["length_seconds"] = sum(compare(-x, -y) for x, y in zip(g, b)) / len(g)
    return results


def swuggy_pairs(n: int, seed: int, corpus_stories: int = 2000, pool_factor: int = 3,
                 extended_homophones: bool = False, seconds: Seconds | None = None) -> list[WuggyItem]:
    """`n` word/non-word pairs, bands balanced (high, mid, low in turn), chosen from a pool of
    `pool_factor`·n words so that every surface baseline (phone n-grams fitted on the corpus words
    with all pool words left out) is near chance. Non-words are made from the words' pronunciations
    (text.nonwords) and are no homophone of a lexicon word (nor, with `extended_homophones`, of
    an english-words entry). With `seconds`, the spoken length (of the phones, as the bench speaks
    them) is balanced too."""
    if n < 1:
        raise UserError(f"number of sWUGGY pairs must be >= 1, got {n}")
    counts = word_counts(seed, corpus_stories)
    pool = _swuggy_pool(n, seed, counts, pool_factor, extended_homophones)
    chosen = _swuggy_pick(pool, counts, n, seconds)
    return [replace(pool[i], id=f"w{k:05d}") for k, i in enumerate(chosen)]


def _swuggy_pool(n: int, seed: int, counts: Counter[str], pool_factor: int, extended_homophones: bool
                 ) -> list[WuggyItem]:
    """One non-word for each of `pool_factor`·n words, bands in turn."""
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
    # Bands in turn; each word serves once (a bigger n needs a bigger corpus).
    cursors = {b: iter(queues[b]) for b in BANDS}
    while len(pool) < n * pool_factor:
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
    return pool


def _swuggy_pick(pool: list[WuggyItem], counts: Counter[str], n: int, seconds: Seconds | None) -> list[int]:
    """The pool indices of `n` pairs, bands in turn, whose baselines are closest to chance."""
    # The audit leaves out the benchmark's words, so each pick changes the n-grams it is judged by.
    # The first pick is made with every pool word left out; each refinement then judges every pair
    # by the n-grams that leave out the current pick and, for a word not yet picked, that word too
    # (exactly as it would be judged once swapped in). Each pick is scored under its own left-out
    # n-grams, and the best one is kept.
    exclude = {it.word for it in pool}
    timed = add_seconds([{} for _ in pool], [speakable(it.phones.split()) for it in pool],  # type: ignore[union-attr]
                        [speakable(it.nonword_phones.split()) for it in pool], seconds)  # type: ignore[union-attr]
    want = {b: len(range(k, n, len(BANDS))) for k, b in enumerate(BANDS)}  # bands in turn
    by_band: dict[str, list[int]] = {}
    best: tuple[float, dict[str, list[int]]] = (float("inf"), {})
    for rnd in range(SWUGGY_ROUNDS + 1):
        surface = SurfaceModel.from_counts(counts, exclude=exclude)

        def judged(it: WuggyItem) -> dict[str, float]:
            left = it.word if by_band else None  # refinements: as if this word were picked too
            return outcomes(surface.features(it.word, [tuple(it.phones.split())], words_known=False,  # type: ignore[union-attr]
                                             held_out=left),
                            surface.features(it.nonword, [tuple(it.nonword_phones.split())],  # type: ignore[union-attr]
                                             words_known=False, held_out=left))

        results = [judged(it) | t for it, t in zip(pool, timed)]
        if by_band:
            worst = _excess(results, list(by_band.values()))
            if worst < best[0]:
                best = (worst, dict(by_band))
            if worst <= 0 or rnd == SWUGGY_ROUNDS:  # every band and the whole within bounds: done
                break
        else:
            for band, k in want.items():
                idx = [i for i, it in enumerate(pool) if it.frequency == band]
                by_band[band] = [idx[j] for j in balanced_subset(idx, [results[i] for i in idx], k)]
        # Balanced as a whole and within each band at once: each outcome counts overall and again
        # under its band's name (swaps stay within a band).
        banded = [r | {f"{it.frequency}/{k}": v for k, v in r.items()} for r, it in zip(results, pool)]
        tol = {k: max(CHANCE_BOUND * (n if "/" not in k else want[k.split("/")[0]]), 1.0)
               for r in banded for k in r}  # the audit's bounds, in pairs
        chosen = improve([i for ch in by_band.values() for i in ch], banded, [it.frequency for it in pool],
                         rounds=20, tol=tol)
        by_band = {band: [i for i in chosen if pool[i].frequency == band] for band in BANDS}
        exclude = {pool[i].word for i in chosen}
    return [i for group in itertools.zip_longest(*best[1].values()) for i in group if i is not None]


def _excess(results: list[dict[str, float]], groups: list[list[int]]) -> float:
    """How far, in pairs, the worst baseline of the worst group (or of all groups together) is
    beyond the audit's bound (CHANCE_BOUND, or one pair for a small group); <= 0: within."""
    out = -math.inf
    for members in [[i for g in groups for i in g], *groups]:
        allowed = max(CHANCE_BOUND * len(members), 1.0)
        for k in results[0]:
            out = max(out, abs(sum(results[i][k] - 0.5 for i in members)) - allowed)
    return out


def sblimp_pairs(per_phenomenon: int = 100, seed: int = 0, phenomena: list[str] | None = None,
                 corpus_stories: int = 2000, pool_factor: int = 6, seconds: Seconds | None = None
                 ) -> list[BlimpItem]:
    """`per_phenomenon` distinct minimal pairs for each phenomenon, every subtype present, each checked
    (blimp_check) and chosen from a pool of `pool_factor` times as many so that every surface
    baseline (length, word and phone n-gram frequencies) is near chance within the phenomenon.
    With `seconds`, `TIMED_FACTOR` times as many as wanted are preselected on the text baselines,
    timed, and the final pick balances the spoken length as well."""
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
        results = [outcomes(surface.features(it.good), surface.features(it.bad)) for it in pool]
        if seconds is not None and len(pool) > TIMED_FACTOR * per_phenomenon:
            keep = sorted(balanced_subset(pool, results, TIMED_FACTOR * per_phenomenon, group=lambda it: it.subtype,
                                          groups=subtypes, share=SUBTYPE_SHARE))
            pool, results = [pool[i] for i in keep], [results[i] for i in keep]
        add_seconds(results, [it.good for it in pool], [it.bad for it in pool], seconds)
        # Spoken length gets half the bound: the build speaks items in other engine runs than the
        # timing did, and that moves a recording by up to ~50 ms, enough to flip a near tie.
        tol = {k: CHANCE_BOUND * per_phenomenon * (SECONDS_MARGIN if k == "length_seconds" else 1.0)
               for k in results[0]}
        chosen = _balanced(pool, results, per_phenomenon, lambda it: it.subtype, subtypes, share=SUBTYPE_SHARE,
                           tol=tol)
        chosen.sort(key=lambda it: subtypes.index(it.subtype))
        items += [replace(it, id=f"{phenomenon}-{i:05d}") for i, it in enumerate(chosen)]
    return items


def storycloze_items(n: int, seed: int, kind: Literal["s", "t"] = "s", corpus_stories: int = 2000,
                     pool_factor: int = 4, seconds: Seconds | None = None) -> list[ClozeItem]:
    """`n` items from held-out stories of `seed`: context, real ending, and a wrong ending, chosen so
    that the surface baselines (word overlap with the context, length, word and phone frequencies)
    are near chance: kind "s" picks stories from a pool of `pool_factor`·n, kind "t" picks for
    each story the donor ending (another schema's) that keeps the baselines balanced. With
    `seconds`, the spoken length is balanced too (the endings are timed: a story is spoken sentence
    by sentence, so the full stories differ in length exactly as their endings do)."""
    if kind not in ("s", "t"):
        raise UserError(f"StoryCloze kind must be 's' or 't', got {kind!r}")
    if n < 1:
        raise UserError(f"number of StoryCloze items must be >= 1, got {n}")
    surface = surface_model(seed, corpus_stories)
    pool = list(itertools.islice(_distinct(iter_stories(seed, "heldout")), max(n * pool_factor, 50)))
    warm(s.text + " " + s.bad_ending for s in pool)
    if kind == "s":
        cands = [ClozeItem("", s.id, s.context, s.ending, s.bad_ending, "s", s.bad_kind, s.schema) for s in pool]
        results = [outcomes(surface.features(c.good_ending, context=c.context),
                            surface.features(c.bad_ending, context=c.context)) for c in cands]
        add_seconds(results, [c.good_ending for c in cands], [c.bad_ending for c in cands], seconds)
        chosen = _balanced(cands, results, n, None, ())
        return [replace(c, id=f"ssc-{i:05d}") for i, c in enumerate(chosen)]
    # t: the wrong ending is the real ending of another held-out story with another schema, as in
    # the topic StoryCloze; of up to 100 seeded donors, the one that keeps the baselines balanced.
    rng = random.Random(f"slmscale-tstorycloze/{seed}")
    bal = Balancer()
    endings = sorted({s.ending for s in pool})
    durs = dict(zip(endings, seconds(endings))) if seconds is not None else {}
    options: list[tuple[list, list[dict[str, float]]]] = []  # per story: its donors and their outcomes
    picks: list[int] = []
    for s in pool[:n]:
        donors = [d for d in pool if d.schema != s.schema and d.ending != s.ending]
        donors = rng.sample(donors, min(100, len(donors)))
        good = surface.features(s.ending, context=s.context)
        results = [outcomes(good, surface.features(d.ending, context=s.context)) for d in donors]
        if durs:
            add_seconds(results, [s.ending] * len(donors), [d.ending for d in donors],
                        lambda texts: [durs[t] for t in texts])
        options.append((donors, results))
        picks.append(bal.best(results))
        bal.add(results[picks[-1]])
    # then each story's donor is re-chosen against all the others, while that lowers the imbalance
    for _ in range(8):
        changed = False
        for i, (_, results) in enumerate(options):
            bal.add({k: 1.0 - v for k, v in results[picks[i]].items()})  # take story i out
            k = bal.best(results)
            bal.add(results[k])
            changed |= k != picks[i]
            picks[i] = k
        if not changed:
            break
    return [ClozeItem(f"tsc-{i:05d}", s.id, s.context, s.ending, options[i][0][k].ending, "t",
                      options[i][0][k].schema, s.schema) for i, (s, k) in enumerate(zip(pool[:n], picks))]


def _distinct(stories):  # type: ignore[no-untyped-def]
    """Drop stories whose words repeat an earlier one (keeps items unique)."""
    seen: set[str] = set()
    for s in stories:
        key = content_hash(s.text)
        if key not in seen:
            seen.add(key)
            yield s
