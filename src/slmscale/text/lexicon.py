"""The lexicon: parsed word entries with the features stories and minimal pairs need.

`LEXICON` is built once at import from `lexicon_data`. Entries are frozen dataclasses, lists are in
data order (never set order), so every seeded choice over them is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from slmscale.text import lexicon_data as data
from slmscale.text.grammar import present_participle, regular_past, regular_plural, third_person


@dataclass(frozen=True)
class Noun:
    word: str
    plural: str | None  # None for mass nouns ("milk")
    cls: str  # semantic class: animal, toy, food, thing, place, ...
    prep: str = ""  # places only: "at the park", "in the garden"

    @property
    def countable(self) -> bool:
        return self.plural is not None

    @property
    def irregular(self) -> bool:
        return self.plural is not None and self.plural != regular_plural(self.word)


@dataclass(frozen=True)
class Verb:
    base: str
    past: str
    participle: str
    third: str
    ing: str
    objects: tuple[str, ...] = ()  # object classes or specific nouns; empty = intransitive
    frame: str = "intransitive"  # "transitive", "intransitive" or "other" (complements vary)

    @property
    def transitive(self) -> bool:
        return self.frame == "transitive"

    @property
    def irregular(self) -> bool:
        return self.past != regular_past(self.base)


@dataclass(frozen=True)
class Name:
    word: str
    gender: str  # "f" or "m"
    kind: str  # "child" or "pet"


@dataclass(frozen=True)
class Adjective:
    word: str
    cls: str  # size, colour, happy, sad, quality


def _words(block: str) -> list[str]:
    return block.split()


def _parse_verb(spec: str, objects: tuple[str, ...], frame: str) -> Verb:
    parts = spec.split(":")
    base = parts[0]
    past = parts[1] if len(parts) > 1 else regular_past(base)
    participle = parts[2] if len(parts) > 2 else past
    return Verb(base, past, participle, third_person(base), present_participle(base, past), objects, frame)


@dataclass
class Lexicon:
    nouns: list[Noun] = field(default_factory=list)
    places: list[Noun] = field(default_factory=list)
    verbs: list[Verb] = field(default_factory=list)
    names: list[Name] = field(default_factory=list)
    adjectives: list[Adjective] = field(default_factory=list)
    adverbs: list[str] = field(default_factory=list)
    quantifiers: list[str] = field(default_factory=list)
    function_words: list[str] = field(default_factory=list)
    _noun_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def nouns_of(self, *classes: str, countable: bool | None = True) -> list[Noun]:
        """Nouns of the given classes (or given words), optionally only countable ones."""
        key = (classes, countable)
        if key not in self._noun_cache:  # stories ask the same questions thousands of times
            # A name that is a class ("toy") means the class, not the word of the same spelling.
            known = self.noun_classes
            want_cls = {c for c in classes if c in known}
            want_words = {c for c in classes if c not in known}
            out = [n for n in self.nouns if n.cls in want_cls or n.word in want_words]
            if countable is not None:
                out = [n for n in out if n.countable == countable]
            self._noun_cache[key] = out
        return list(self._noun_cache[key])

    @cached_property
    def noun_classes(self) -> frozenset[str]:
        return frozenset(n.cls for n in self.nouns)

    def adjectives_of(self, cls: str) -> list[str]:
        return [a.word for a in self.adjectives if a.cls == cls]

    def names_of(self, kind: str = "child", gender: str | None = None) -> list[Name]:
        return [n for n in self.names if n.kind == kind and (gender is None or n.gender == gender)]

    @cached_property
    def noun_index(self) -> dict[str, Noun]:
        return {n.word: n for n in self.nouns + self.places}

    @cached_property
    def verb_index(self) -> dict[str, Verb]:
        return {v.base: v for v in self.verbs}

    def objects_for(self, verb: Verb) -> list[Noun]:
        """Countable nouns the verb plausibly takes as object."""
        return self.nouns_of(*verb.objects, countable=True)

    @property
    def transitive_verbs(self) -> list[Verb]:
        return [v for v in self.verbs if v.transitive]

    @property
    def intransitive_verbs(self) -> list[Verb]:
        return [v for v in self.verbs if v.frame == "intransitive"]

    def lemmas(self) -> list[str]:
        """Distinct dictionary words (one per entry), for counting the lexicon's size."""
        seen: dict[str, None] = {}
        for w in ([n.word for n in self.nouns + self.places] + [v.base for v in self.verbs]
                  + [n.word.lower() for n in self.names] + [a.word for a in self.adjectives]
                  + self.adverbs + self.quantifiers + self.function_words):
            seen.setdefault(w, None)
        return list(seen)

    @cached_property
    def word_forms(self) -> frozenset[str]:
        """Every lower-case surface form the generator can emit (plurals, verb forms, names...)."""
        forms = set(self.lemmas())
        for n in self.nouns + self.places:
            if n.plural:
                forms.add(n.plural)
        for v in self.verbs:
            forms.update((v.past, v.participle, v.third, v.ing))
        return frozenset(forms)


def build_lexicon() -> Lexicon:
    lex = Lexicon()
    for cls, block in data.NOUNS.items():
        for spec in _words(block):
            word, _, plural = spec.partition(":")
            lex.nouns.append(Noun(word, None if plural == "-" else (plural or regular_plural(word)), cls))
    for spec in _words(data.PLACES):
        word, _, prep = spec.partition(":")
        lex.places.append(Noun(word, regular_plural(word), "place", prep))
    seen_verbs: set[str] = set()
    for spec, objects in data.TRANSITIVE.items():
        verb = _parse_verb(spec, tuple(objects.split()), "transitive")
        lex.verbs.append(verb)
        seen_verbs.add(verb.base)
    for block, frame in ((data.INTRANSITIVE, "intransitive"), (data.OTHER_VERBS, "other")):
        for spec in _words(block):
            verb = _parse_verb(spec, (), frame)
            if verb.base not in seen_verbs:
                lex.verbs.append(verb)
                seen_verbs.add(verb.base)
    for gender, block, kind in (("f", data.GIRL_NAMES, "child"), ("m", data.BOY_NAMES, "child"),
                                ("f", data.PET_NAMES_F, "pet"), ("m", data.PET_NAMES_M, "pet")):
        lex.names.extend(Name(w, gender, kind) for w in _words(block))
    for cls, block in data.ADJECTIVES.items():
        lex.adjectives.extend(Adjective(w, cls) for w in _words(block))
    lex.adverbs = _words(data.ADVERBS)
    lex.quantifiers = _words(data.QUANTIFIERS)
    lex.function_words = _words(data.FUNCTION_WORDS)
    return lex


LEXICON = build_lexicon()
