"""Story schema machinery: the registry (`SCHEMAS`, `@schema`), the cast (`Char`, `Thing`) and the
story context `Ctx`. The schemas themselves live in `schemas_*.py`; `text.schemas` imports them all
(registering them) and is the module to import from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from slmscale.text.asides import aside
from slmscale.text.grammar import article, clean_sentence, pronoun
from slmscale.text.lexicon import LEXICON, Lexicon, Noun

SCHEMAS: dict[str, Callable[["Ctx"], None]] = {}
ASIDE_PROBABILITY = 0.5  # chance of one scene-setting sentence after the opening (see asides.py)


def schema(name: str) -> Callable[[Callable[["Ctx"], None]], Callable[["Ctx"], None]]:
    def register(fn: Callable[["Ctx"], None]) -> Callable[["Ctx"], None]:
        if name in SCHEMAS:
            raise ValueError(f"duplicate story schema {name!r}")
        SCHEMAS[name] = fn
        return fn
    return register


class Char:
    """A character: a named child or pet ("Lily"), or a described one ("the old owl")."""

    def __init__(self, name: str, gender: str, intro: str, kind: str) -> None:
        self.name, self.gender, self.intro, self.kind = name, gender, intro, kind

    def __str__(self) -> str:
        return self.name

    he = property(lambda self: pronoun(self.gender, "subj"))
    him = property(lambda self: pronoun(self.gender, "obj"))
    his = property(lambda self: pronoun(self.gender, "poss"))
    himself = property(lambda self: pronoun(self.gender, "refl"))
    was = property(lambda self: "were" if self.gender == "p" else "was")


class Thing:
    """A countable object (or place) with an optional adjective, always singular in stories."""

    def __init__(self, noun: Noun, adj: str = "") -> None:
        self.noun, self.adj = noun, adj

    def __str__(self) -> str:
        return self.noun.word

    full = property(lambda self: f"{self.adj} {self.noun.word}".strip())
    the = property(lambda self: f"the {self.noun.word}")
    the_full = property(lambda self: f"the {self.full}")
    a = property(lambda self: f"{article(self.full)} {self.full}")
    pl = property(lambda self: self.noun.plural or self.noun.word)
    at = property(lambda self: f"{self.noun.prep or 'at'} the {self.noun.word}")
    to = property(lambda self: f"to the {self.noun.word}")


@dataclass
class Draft:
    sentences: list[str] = field(default_factory=list)
    entities: dict[str, str] = field(default_factory=dict)
    bad_ending: str = ""
    bad_kind: str = ""


class Ctx:
    """Per-story state: the seeded RNG, the cast, and the sentences emitted so far."""

    def __init__(self, rng: random.Random, lexicon: Lexicon = LEXICON) -> None:
        self.rng, self.lex = rng, lexicon
        self.vars: dict[str, object] = {}
        self.draft = Draft()
        self._used_names: set[str] = set()
        self._used_nouns: set[str] = set()

    # -- casting ---------------------------------------------------------------------------------
    def child(self, role: str, gender: str | None = None) -> Char:
        pool = [n for n in self.lex.names_of("child", gender) if n.word not in self._used_names]
        name = self.rng.choice(pool)
        self._used_names.add(name.word)
        noun = "girl" if name.gender == "f" else "boy"
        size = self.rng.choice(["little", "little", "small", "young", "kind", "happy", "curious", "brave"])
        return self._cast(role, Char(name.word, name.gender, f"{article(size)} {size} {noun} named {name.word}",
                                     "child"))

    def pet(self, role: str, classes: tuple[str, ...] = ("animal",)) -> Char:
        """A named animal ("a little dog named Spot")."""
        animal = self.noun(classes)
        pool = [n for n in self.lex.names_of("pet") if n.word not in self._used_names]
        name = self.rng.choice(pool)
        self._used_names.add(name.word)
        size = self.rng.choice(["little", "small", "big", "fluffy", "friendly", "happy", "tiny"])
        return self._cast(role, Char(name.word, name.gender,
                                     f"{article(size)} {size} {animal.word} named {name.word}", "pet"))

    def animal(self, role: str, classes: tuple[str, ...] = ("animal",), adj_cls: str = "size") -> Char:
        """An unnamed animal, referred to as "the owl" and "it"."""
        noun = self.noun(classes)
        adj = self.rng.choice(self.lex.adjectives_of(adj_cls) + ["old", "kind", "friendly", "wise"])
        return self._cast(role, Char(f"the {noun.word}", "n", f"{article(adj)} {adj} {noun.word}", "animal"))

    def parent(self, role: str) -> Char:
        word = self.rng.choice(["mom", "dad", "grandma", "grandpa"])
        gender = "f" if word in ("mom", "grandma") else "m"
        return self._cast(role, Char(word.capitalize(), gender, word, "parent"))

    def thing(self, role: str, classes: tuple[str, ...], adj_cls: str | None = "colour") -> Thing:
        noun = self.noun(classes)
        adj = self.rng.choice(self.lex.adjectives_of(adj_cls)) if adj_cls else ""
        return self._cast(role, Thing(noun, adj))

    def place(self, role: str, words: tuple[str, ...] | None = None) -> Thing:
        pool = [p for p in self.lex.places if (words is None or p.word in words)
                and p.word not in self._used_nouns]
        noun = self.rng.choice(pool)
        self._used_nouns.add(noun.word)
        return self._cast(role, Thing(noun))

    def noun(self, classes: tuple[str, ...]) -> Noun:
        """A countable noun of the given classes (or words) not yet used in this story."""
        pool = [n for n in self.lex.nouns_of(*classes) if n.word not in self._used_nouns]
        noun = self.rng.choice(pool)
        self._used_nouns.add(noun.word)
        return noun

    def word(self, role: str, options: list[str]) -> str:
        value = self.rng.choice(options)
        self.vars[role] = value
        return value

    def _cast(self, role: str, value: Char | Thing) -> Char | Thing:  # type: ignore[return]
        self.vars[role] = value
        self.draft.entities[role] = value.name if isinstance(value, Char) else value.full
        return value

    # -- emitting --------------------------------------------------------------------------------
    def fill(self, template: str) -> str:
        return clean_sentence(template.format_map(self.vars))

    def say(self, *templates: str) -> None:
        """Emit one sentence, from one of the templates."""
        self.draft.sentences.append(self.fill(self.rng.choice(templates)))

    def maybe(self, p: float, *templates: str) -> None:
        if self.rng.random() < p:
            self.say(*templates)

    def opening(self, hero: Char, extra: tuple[str, ...] = ()) -> None:
        """The first sentence introducing the hero, in one of many shapes."""
        i = hero.intro
        self.say(f"Once upon a time, there was {i}.", f"There was once {i}.", f"Once there was {i}.",
                 f"Once upon a time, {i} lived in a small house.", f"Long ago, there was {i}.",
                 f"There was {i} who loved to play.", *extra)
        if self.rng.random() < ASIDE_PROBABILITY:
            self.draft.sentences.append(clean_sentence(aside(self, hero)))

    def end(self, *options: tuple[str, str, str]) -> None:
        """Finish with (good, bad, kind): one option is chosen; the bad ending must differ."""
        good, bad, kind = self.rng.choice(options)
        good_s, bad_s = self.fill(good), self.fill(bad)
        if good_s == bad_s:
            raise ValueError(f"schema produced identical good and bad endings: {good_s!r}")
        self.draft.sentences.append(good_s)
        self.draft.bad_ending, self.draft.bad_kind = bad_s, kind


def emotion_pair(ctx: Ctx, good_role: str = "G", bad_role: str = "S") -> None:
    """Cast one positive and one negative emotion word (for emotion-follows-outcome endings)."""
    ctx.word(good_role, ["happy", "glad", "proud", "excited", "happy", "joyful", "thankful"])
    ctx.word(bad_role, ["sad", "upset", "angry", "sad", "grumpy", "lonely"])


def other_thing(ctx: Ctx, role: str, like: Thing) -> Thing:
    """A second object of the same class as `like`, for wrong-object endings."""
    return ctx.thing(role, (like.noun.cls,), adj_cls=None)
