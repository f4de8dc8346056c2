"""Asides: one optional sentence about the hero, after the opening, in the present or past tense.

Stories are told in the past tense, which alone would give a model little evidence for present-tense
agreement, reflexives, demonstratives or quantifiers — the very contrasts the sBLIMP-like pairs test.
An aside is a scene-setting sentence ("Every day, she runs in the park.", "Tom has two mice, and
they sleep in a box.", "\"These shells are so pretty!\" Mia said.") that adds this evidence and more
variety. Asides only use nouns not yet cast in the story, so decoy objects stay unmentioned.
"""

from __future__ import annotations

import random
from typing import Protocol

from slmscale.text.grammar import article
from slmscale.text.lexicon import Lexicon, Noun


# What an aside reads from the story context (`schema_base.Ctx`, which calls `aside`) and its hero
# (`schema_base.Char`); structural types, so this module does not import the one that imports it.
class _Story(Protocol):
    rng: random.Random
    lex: Lexicon

    def noun(self, classes: tuple[str, ...]) -> Noun: ...


class _Hero(Protocol):
    name: str
    he: str
    him: str
    his: str
    himself: str

ACTIVE = "run jump dance sing swim skip hop climb play walk".split()
NUMBERS = "two three four five six".split()
PLURAL_ANIMALS = ("cat dog bird fish mouse rabbit duck frog hen goose puppy kitten sheep bunny hamster "
                  "turtle lamb").split()
THINGS = ("toy", "nature", "food", "thing")


def _place(c: _Story) -> str:
    p = c.rng.choice(c.lex.places)
    return f"{p.prep} the {p.word}"


def aside(c: _Story, hero: _Hero) -> str:
    """A template (already filled in) for one aside sentence about `hero`."""
    rng = c.rng
    name, he, his, himself = hero.name, hero.he, hero.his, hero.himself
    verb = c.lex.verb_index[rng.choice(ACTIVE)]
    where = _place(c)
    kind = rng.randrange(9)
    if kind == 0:  # present, third person singular
        return rng.choice([f"Every day, {he} {verb.third} {where}.", f"{name} {rng.choice(['likes', 'loves'])} to "
                           f"{verb.base} {where}.", f"{name} always {verb.third} when {he} is happy."])
    if kind == 1:  # present, plural subject
        animal = c.noun(PLURAL_ANIMALS)
        sleep = rng.choice(["sleep", "play", "rest", "eat", "hide"])
        return rng.choice([f"{name} has {rng.choice(NUMBERS)} {animal.plural}, and they {sleep} {where}.",
                           f"The {animal.plural} {where} {sleep} all day.",
                           f"{his} {animal.plural} are very {rng.choice(['funny', 'small', 'soft', 'noisy'])}."])
    if kind == 2:  # reflexive
        return rng.choice([f"{name} liked to look at {himself} in the mirror.",
                           f"{name} could tie {his} shoes all by {himself}.",
                           f"{he} was very proud of {himself}."])
    if kind == 3:  # demonstratives
        n = c.noun(THINGS)
        adj = rng.choice(["pretty", "big", "shiny", "nice", "soft", "small", "funny"])
        return rng.choice([f"\"This {n.word} is mine,\" {name} liked to say.",
                           f"\"These {n.plural} are so {adj}!\" {name} said.",
                           f"\"Look at that {n.word}!\" {name} said.",
                           f"\"Those {n.plural} are {adj},\" {he} said."])
    if kind == 4:  # quantifiers
        n = c.noun(THINGS + ("animal",))
        return rng.choice([f"There were many {n.plural} {where}.", f"Every {n.word} {where} was "
                           f"{rng.choice(c.lex.adjectives_of('colour'))}.",
                           f"{name} counted {rng.choice(NUMBERS)} {n.plural} {where}.",
                           f"{he} had a few {n.plural} in {his} room."])
    if kind == 5:  # negation
        n = c.noun(("animal", "food"))
        return rng.choice([f"{name} does not like {n.plural}.", f"{name} did not like {n.plural}.",
                           f"{he} was not {rng.choice(['scared', 'sad', 'shy', 'tired'])} of anything."])
    if kind == 6:  # plural / conjoined subject with be
        adj = rng.choice(["kind", "nice", "busy", "happy", "funny"])
        return rng.choice([f"{his} mom and dad were very {adj}.", f"{his} friends were always {adj} to {hero.him}.",
                           f"{name} and {his} friends are {adj}."])
    if kind == 7:  # irregular past in a frame
        food = c.noun(("food",))
        return rng.choice([f"{he} ate {article(food.word)} {food.word} for breakfast.",
                           f"{he} went {where} with {his} mom.", f"{he} saw a big rainbow {where}."])
    n = c.noun(("animal",))  # kind 8: adjective order
    size = rng.choice(["little", "big", "small", "tiny"])
    return f"{name} had {article(size)} {size} {rng.choice(c.lex.adjectives_of('colour'))} {n.word}."
