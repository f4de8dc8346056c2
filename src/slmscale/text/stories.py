"""Seeded synthetic children's stories (TinyStories-like) with a held-out benchmark partition.

Story `i` of seed `s` is made from its own RNG, `random.Random("slmscale-story/s/i")` (string seeds
are hashed with SHA-512 by `random`, independent of PYTHONHASHSEED), so a story does not depend on
the ones before it and the same seed always gives the same stories.

Partitions (see `heldout.py`):
  "train"    stories whose text is not held out and none of whose sentences is held out;
  "heldout"  stories whose whole text is held out (the StoryCloze-like benchmarks use these);
  "all"      every generated story.
So no held-out story, and no held-out sentence (the sBLIMP-like benchmarks use only those), ever
appears verbatim in a training corpus, for any seed.

`shuffle_across_stories` removes story structure but keeps the sentences (the "no-story" control of
Cuervo & Marxer's synthetic-stories finding): see its docstring.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Literal

from slmscale.errors import UserError
from slmscale.text.heldout import is_heldout_sentence, is_heldout_story
from slmscale.text.schemas import SCHEMAS, Ctx

Partition = Literal["train", "heldout", "all"]
PARTITIONS = ("train", "heldout", "all")
# Stories whose sentences are shuffled together for the no-story control: big enough that two
# neighbouring sentences almost never come from one story, small enough that a corpus cut at an
# hours target holds (all but at most one block of) the sentences of the matching story corpus.
NO_STORY_BLOCK = 64
SCHEMA_NAMES = tuple(sorted(SCHEMAS))


@dataclass(frozen=True)
class Story:
    id: str
    schema: str
    sentences: list[str]
    entities: dict[str, str] = field(default_factory=dict)
    bad_ending: str = ""  # coherent-but-wrong last sentence made by the schema
    bad_kind: str = ""  # what the bad ending gets wrong: emotion, object, character, outcome

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def context(self) -> str:
        """Every sentence but the last."""
        return " ".join(self.sentences[:-1])

    @property
    def ending(self) -> str:
        return self.sentences[-1]


def make_story(seed: int, index: int) -> Story:
    """Story number `index` of `seed` (every partition)."""
    rng = random.Random(f"slmscale-story/{seed}/{index}")
    name = rng.choice(SCHEMA_NAMES)
    ctx = Ctx(rng)
    SCHEMAS[name](ctx)
    d = ctx.draft
    return Story(id=f"s{seed}-{index:07d}", schema=name, sentences=d.sentences, entities=d.entities,
                 bad_ending=d.bad_ending, bad_kind=d.bad_kind)


def partition_of(story: Story) -> str:
    """'heldout', 'train', or 'excluded' (a non-held-out story containing a held-out sentence)."""
    if is_heldout_story(story.text):
        return "heldout"
    if any(is_heldout_sentence(s) for s in story.sentences):
        return "excluded"
    return "train"


def iter_stories(seed: int, partition: Partition = "train", start: int = 0) -> Iterator[Story]:
    """Endless stream of stories of one partition, in index order."""
    if partition not in PARTITIONS:
        raise UserError(f"unknown story partition {partition!r}; use one of {', '.join(PARTITIONS)}")
    for index in itertools.count(start):
        story = make_story(seed, index)
        if partition == "all" or partition_of(story) == partition:
            yield story


def generate_stories(n: int, seed: int, partition: Partition = "train") -> list[Story]:
    """The first `n` stories of the partition (training stories by default)."""
    if n < 0:
        raise UserError(f"number of stories must be >= 0, got {n}")
    return list(itertools.islice(iter_stories(seed, partition), n))


def shuffle_across_stories(stories: Iterable[tuple[str, list[str]]], seed: int,
                           block: int = NO_STORY_BLOCK) -> Iterator[tuple[str, str]]:
    """(id, text) utterances without story structure, from (id, sentences) stories.

    The sentences of each run of `block` consecutive stories are pooled, shuffled with
    `random.Random(f"slmscale-nostory/{seed}/{block number}")` and dealt back in order: utterance i
    keeps story i's id and its number of sentences, so lengths stay similar and anything keyed on
    the id (voice, split) is unchanged. Lazy: an endless story stream gives an endless stream.
    """
    if block < 1:
        raise UserError(f"no-story block size must be >= 1, got {block}")
    it = iter(stories)
    for number in itertools.count():
        chunk = list(itertools.islice(it, block))
        if not chunk:
            return
        pool = [sentence for _, sentences in chunk for sentence in sentences]
        random.Random(f"slmscale-nostory/{seed}/{number}").shuffle(pool)
        start = 0
        for sid, sentences in chunk:
            yield sid, " ".join(pool[start:start + len(sentences)])
            start += len(sentences)
