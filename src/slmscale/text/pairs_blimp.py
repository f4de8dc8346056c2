"""sBLIMP-like minimal pairs: one generator per phenomenon, one template family per subtype.

Each generator `gen(rng, subtype) -> (good, bad)` builds a grammatical sentence from the lexicon and
the same sentence broken in exactly one place: one word replaced, one word added or removed, or two
neighbouring words swapped. `pairs.sblimp_pairs` keeps only pairs whose good sentence is in the
held-out sentence partition, so no good sentence is ever in a training corpus.
"""

from __future__ import annotations

import random
import re
from typing import Callable

from slmscale.text.grammar import article, clean_sentence, regular_past, regular_plural
from slmscale.text.lexicon import LEXICON, Noun, Verb

L = LEXICON
Pair = tuple[str, str]

# Verbs that never take a direct object, and verbs that always need one (so swapping them is wrong).
STRICT_INTRANSITIVE = "sleep laugh smile sneeze yawn nap giggle snore arrive frown shiver sigh tremble cry".split()
STRICT_TRANSITIVE = "find like love want need bring carry grab hug fix buy keep hold use lift touch thank feed".split()
# Animate, agentive intransitive verbs for agreement frames.
AGENT_INTRANSITIVE = ("run jump walk hop skip swim sleep cry laugh smile dance sing sit rest wait shout giggle nap "
                      "yawn sneeze wiggle cough snore crawl hurry").split()
# Irregular plurals whose regularised form sounds different (tomatoes/tomatos would not).
IRREGULAR_PLURAL = "mouse sheep deer goose wolf knife leaf man woman child foot shelf half".split()
# Plurals already ending in s (or equal to the singular) cannot be double-marked audibly.
DOUBLE_SKIP = {"sheep", "deer", "wolf", "knife", "leaf", "shelf", "half"}
GENDERED = {"boy": "m", "girl": "f", "king": "m", "queen": "f", "prince": "m", "princess": "f", "man": "m",
            "woman": "f", "mom": "f", "dad": "m", "mother": "f", "father": "m", "grandma": "f", "grandpa": "m",
            "brother": "m", "sister": "f"}
REFL = {"m": "himself", "f": "herself", "n": "itself", "p": "themselves"}
SUBJ = {"m": "he", "f": "she", "p": "they"}
OBJ = {"m": "him", "f": "her", "p": "them"}
NUMBERS = "two three four five six seven eight nine ten".split()
TIMES = ["today", "again", "in the morning", "after lunch", "at night", "yesterday", "", ""]
PRESENT_TIMES = ["every day", "in the morning", "after lunch", "at night", "now", "today", "", ""]


def _verb(base: str) -> Verb:
    return L.verb_index[base]


def _distinct_number_nouns(*classes: str) -> list[Noun]:
    """Countable nouns whose plural sounds different from the singular (not sheep, fish, deer)."""
    return [n for n in L.nouns_of(*classes) if n.plural != n.word]


ANIMATE = _distinct_number_nouns("animal", "person")
ANIMALS = _distinct_number_nouns("animal")
OBJECTS = _distinct_number_nouns("toy", "food", "thing", "clothing")
ADJ_OBJ = L.adjectives_of("colour") + L.adjectives_of("size") + L.adjectives_of("quality")
ADJ_PRED = L.adjectives_of("happy") + L.adjectives_of("sad")
NAMES = [n for n in L.names if n.kind == "child"]


def _place(rng: random.Random) -> str:
    p = rng.choice(L.places)
    return f"{p.prep} the {p.word}"


def _tail(rng: random.Random, present: bool = False) -> str:
    """A place or a time phrase (present-tense frames get no "yesterday")."""
    return rng.choice([_place(rng), _place(rng), rng.choice(PRESENT_TIMES if present else TIMES)])


def _object_for(rng: random.Random, verb: Verb) -> Noun:
    return rng.choice([n for n in L.objects_for(verb) if n.plural != n.word])


def _s(*parts: str) -> str:
    return clean_sentence(" ".join(p for p in parts if p))


def _pair(good: list[str], bad: list[str]) -> Pair:
    return _s(*good), _s(*bad)


def subject_verb_agreement(rng: random.Random, subtype: str) -> Pair:
    v = _verb(rng.choice(AGENT_INTRANSITIVE))
    n = rng.choice(ANIMATE)
    tail = _tail(rng, present=True)
    if subtype == "singular_subject":
        return _pair(["the", n.word, v.third, tail], ["the", n.word, v.base, tail])
    if subtype == "plural_subject":
        return _pair(["the", n.plural, v.base, tail], ["the", n.plural, v.third, tail])  # type: ignore[list-item]
    if subtype == "name_subject":
        name = rng.choice(NAMES).word
        t = _verb(rng.choice(["like", "love", "want", "see", "find", "need", "hold", "watch"]))
        o = _object_for(rng, t)
        return _pair([name, t.third, "the", o.word, tail], [name, t.base, "the", o.word, tail])
    # across_prepositional_phrase: the attractor noun has the other number
    a = rng.choice([x for x in ANIMATE if x is not n])
    prep = rng.choice(["near", "with", "behind", "next to"])
    if rng.random() < 0.5:
        return _pair(["the", n.word, prep, "the", a.plural, v.third], ["the", n.word, prep, "the", a.plural, v.base])  # type: ignore[list-item]
    return _pair(["the", n.plural, prep, "the", a.word, v.base], ["the", n.plural, prep, "the", a.word, v.third])  # type: ignore[list-item]


def determiner_noun_agreement(rng: random.Random, subtype: str) -> Pair:
    name = rng.choice(NAMES).word
    v = _verb(rng.choice(["see", "like", "want", "find", "hold", "need", "love", "watch", "touch"]))
    o = _object_for(rng, v)
    tail = _tail(rng)
    if subtype == "demonstrative_singular":
        d = rng.choice(["this", "that"])
        return _pair([name, v.past, d, o.word, tail], [name, v.past, d, o.plural, tail])  # type: ignore[list-item]
    if subtype == "demonstrative_plural":
        d = rng.choice(["these", "those"])
        return _pair([name, v.past, d, o.plural, tail], [name, v.past, d, o.word, tail])  # type: ignore[list-item]
    if subtype == "indefinite_article":
        return _pair([name, v.past, article(o.word), o.word, tail], [name, v.past, article(o.word), o.plural, tail])  # type: ignore[list-item]
    # article_a_an: the article must match the next sound
    adj = rng.choice(ADJ_OBJ + [""] * 4)
    head = adj or o.word
    right = article(head)
    wrong = "an" if right == "a" else "a"
    return _pair([name, v.past, right, adj, o.word, tail], [name, v.past, wrong, adj, o.word, tail])


def _gendered_subject(rng: random.Random, subtype: str) -> tuple[str, str]:
    if subtype == "name_subject":
        n = rng.choice(NAMES)
        return n.word, n.gender
    word = rng.choice(sorted(GENDERED))
    return f"the {word}", GENDERED[word]


REFL_FRAMES = [("saw", "in the mirror"), ("hurt", ""), ("washed", ""), ("hugged", ""), ("drew", ""),
               ("liked", ""), ("helped", ""), ("tickled", ""), ("was proud of", ""), ("looked at", "in the water"),
               ("made", "a cake"), ("bought", "a hat"), ("talked to", "")]


def anaphor_gender_agreement(rng: random.Random, subtype: str) -> Pair:
    subj, g = _gendered_subject(rng, subtype)
    verb, extra = rng.choice(REFL_FRAMES)
    tail = rng.choice([_place(rng), rng.choice(TIMES)]) if not extra else extra
    other = "herself" if g == "m" else "himself"
    return _pair([subj, verb, REFL[g], tail], [subj, verb, other, tail])


def anaphor_number_agreement(rng: random.Random, subtype: str) -> Pair:
    verb, extra = rng.choice(REFL_FRAMES)
    tail = extra or rng.choice([_place(rng), rng.choice(TIMES)])
    word = rng.choice(sorted(GENDERED) + [n.word for n in ANIMALS])
    noun = L.noun_index[word]
    sg = GENDERED.get(word, "n")
    if subtype == "singular_subject":
        return _pair(["the", word, verb, REFL[sg], tail], ["the", word, verb, "themselves", tail])
    return _pair(["the", noun.plural, verb, "themselves", tail], ["the", noun.plural, verb, REFL[sg], tail])  # type: ignore[list-item]


def _overregularised(v: Verb) -> str:
    """What a child might say: eated, bringed, runned (one-vowel verbs ending in one consonant double)."""
    b = v.base
    if re.fullmatch(r"[^aeiou]+[aeiou][^aeiouwxy]", b):
        return b + b[-1] + "ed"
    return regular_past(b)


# Transitive verbs with at least one countable object whose plural sounds different.
COUNT_TRANSITIVE = [v for v in L.transitive_verbs if any(n.plural != n.word for n in L.objects_for(v))]
IRREGULAR_TRANSITIVE = [v for v in COUNT_TRANSITIVE if v.irregular and v.past != v.base]
IRREGULAR_INTRANSITIVE = [v for v in L.intransitive_verbs if v.irregular and v.past != v.base
                          and v.base in AGENT_INTRANSITIVE + ["fly", "fall", "spin", "stand"]]


def irregular_past_tense(rng: random.Random, subtype: str) -> Pair:
    name = rng.choice(NAMES).word
    pool = IRREGULAR_TRANSITIVE + IRREGULAR_INTRANSITIVE
    if subtype == "participle_for_past":
        pool = [v for v in pool if v.participle != v.past]
    else:  # the made-up form must not be a real word ("see" -> "seed")
        pool = [v for v in pool if _overregularised(v) not in L.word_forms]
    v = rng.choice(pool)
    rest = ["the", _object_for(rng, v).word, _tail(rng)] if v.transitive else [_tail(rng)]
    wrong = _overregularised(v) if subtype == "overregularised" else v.participle
    return _pair([name, v.past, *rest], [name, wrong, *rest])


def argument_structure(rng: random.Random, subtype: str) -> Pair:
    name = rng.choice(NAMES).word
    if subtype == "transitive":  # an intransitive verb given an object
        v = _verb(rng.choice(STRICT_TRANSITIVE))
        bad = _verb(rng.choice(STRICT_INTRANSITIVE))
        o = _object_for(rng, v)
        tail = rng.choice([_place(rng), rng.choice(TIMES)])
        return _pair([name, v.past, "the", o.word, tail], [name, bad.past, "the", o.word, tail])
    # intransitive: a transitive verb left without its object
    v = _verb(rng.choice(STRICT_INTRANSITIVE))
    bad = _verb(rng.choice(STRICT_TRANSITIVE))
    tail = _place(rng)
    return _pair([name, v.past, tail], [name, bad.past, tail])


def word_order(rng: random.Random, subtype: str) -> Pair:
    name = rng.choice(NAMES).word
    if subtype == "adjective_noun":
        v = _verb(rng.choice(["see", "find", "like", "want", "hold", "bring", "take"]))
        o, adj = _object_for(rng, v), rng.choice(ADJ_OBJ)
        tail = _tail(rng)
        return _pair([name, v.past, "the", adj, o.word, tail], [name, v.past, "the", o.word, adj, tail])
    if subtype == "determiner_noun":
        v = _verb(rng.choice(["see", "find", "like", "want", "hold", "bring", "take", "carry", "kick", "eat"]))
        o = _object_for(rng, v)
        tail = _tail(rng)
        return _pair([name, v.past, "the", o.word, tail], [name, v.past, o.word, "the", tail])
    if subtype == "adverb_adjective":
        adj = rng.choice(ADJ_PRED)
        tail = rng.choice(TIMES)
        return _pair([name, "was very", adj, tail], [name, "was", adj, "very", tail])
    v = _verb(rng.choice(AGENT_INTRANSITIVE))  # subject_verb
    tail = _place(rng)
    return _pair([name, v.past, tail], [v.past, name, tail])


def quantifiers(rng: random.Random, subtype: str) -> Pair:
    if subtype == "every_each":
        q = rng.choice(["every", "each"])
        n, v = rng.choice(ANIMATE), _verb(rng.choice(AGENT_INTRANSITIVE))
        tail = _tail(rng, present=True)
        return _pair([q, n.word, v.third, tail], [q, n.plural, v.third, tail])  # type: ignore[list-item]
    name = rng.choice(NAMES).word
    v = _verb(rng.choice(["see", "find", "have", "want", "like", "bring", "count"]) if subtype != "many_few" else
              rng.choice(["see", "find", "like", "count", "watch"]))
    o = _object_for(rng, v) if v.transitive else rng.choice(OBJECTS)
    q = rng.choice(["many", "a few", "several", "some", "lots of"]) if subtype == "many_few" else rng.choice(NUMBERS)
    tail = _tail(rng)
    return _pair([name, v.past, q, o.plural, tail], [name, v.past, q, o.word, tail])  # type: ignore[list-item]


def negation(rng: random.Random, subtype: str) -> Pair:
    name = rng.choice(NAMES).word
    if subtype == "copula_order":
        adj = rng.choice(ADJ_PRED)
        tail = rng.choice(TIMES)
        return _pair([name, "was not", adj, tail], [name, "not was", adj, tail])
    v = rng.choice([v for v in COUNT_TRANSITIVE if v.past != v.base])
    rest = ["the", _object_for(rng, v).word, _tail(rng, present=subtype == "does_not_present")]
    if subtype == "did_not_past":
        return _pair([name, "did not", v.base, *rest], [name, "did not", v.past, *rest])
    return _pair([name, "does not", v.base, *rest], [name, "does not", v.third, *rest])  # does_not_present


def pronoun_case(rng: random.Random, subtype: str) -> Pair:
    g = rng.choice(["m", "f", "p"])
    if subtype == "subject":
        v = rng.choice(COUNT_TRANSITIVE)
        rest = ["the", _object_for(rng, v).word, _tail(rng)]
        return _pair([SUBJ[g], v.past, *rest], [OBJ[g], v.past, *rest])
    name = rng.choice(NAMES).word
    if subtype == "object":
        v = _verb(rng.choice(["hug", "see", "help", "call", "thank", "follow", "tickle", "meet", "watch", "kiss"]))
        tail = _tail(rng)
        return _pair([name, v.past, OBJ[g], tail], [name, v.past, SUBJ[g], tail])
    v = _verb(rng.choice(["give", "bring", "show", "sell", "throw"]))  # after_preposition
    o = _object_for(rng, v) if v.objects else rng.choice(OBJECTS)
    return _pair([name, v.past, "the", o.word, "to", OBJ[g]], [name, v.past, "the", o.word, "to", SUBJ[g]])


def copula_agreement(rng: random.Random, subtype: str) -> Pair:
    adj = rng.choice(ADJ_PRED)
    tail = rng.choice((PRESENT_TIMES if subtype == "is_are" else TIMES) + [_place(rng)])
    n = rng.choice(ANIMATE)
    if subtype == "was_were":
        if rng.random() < 0.5:
            return _pair(["the", n.word, "was", adj, tail], ["the", n.word, "were", adj, tail])
        return _pair(["the", n.plural, "were", adj, tail], ["the", n.plural, "was", adj, tail])  # type: ignore[list-item]
    if subtype == "is_are":
        if rng.random() < 0.5:
            return _pair(["the", n.word, "is", adj, tail], ["the", n.word, "are", adj, tail])
        return _pair(["the", n.plural, "are", adj, tail], ["the", n.plural, "is", adj, tail])  # type: ignore[list-item]
    a, b = rng.sample(NAMES, 2)  # conjoined_subject
    return _pair([a.word, "and", b.word, "were", adj, tail], [a.word, "and", b.word, "was", adj, tail])


def irregular_plural(rng: random.Random, subtype: str) -> Pair:
    pool = IRREGULAR_PLURAL if subtype == "regularised" else [w for w in IRREGULAR_PLURAL if w not in DOUBLE_SKIP]
    noun = L.noun_index[rng.choice(pool)]
    name = rng.choice(NAMES).word
    verb = rng.choice(["saw", "counted", "drew", "liked", "watched", "found"])
    q = rng.choice(NUMBERS + ["many", "some", "the", "the"])
    tail = _tail(rng)
    if subtype == "regularised":
        wrong = regular_plural(noun.word)
        if wrong == noun.plural:  # sheep -> sheeps is still wrong; regular_plural gives "sheeps"
            wrong = noun.word + "s"
    else:  # double_marked: mices, childrens
        wrong = noun.plural + "s"  # type: ignore[operator]
    return _pair([name, verb, q, noun.plural, tail], [name, verb, q, wrong, tail])  # type: ignore[list-item]


PHENOMENA: dict[str, tuple[Callable[[random.Random, str], Pair], tuple[str, ...]]] = {
    "subject_verb_agreement": (subject_verb_agreement,
                               ("singular_subject", "plural_subject", "name_subject", "across_prepositional_phrase")),
    "determiner_noun_agreement": (determiner_noun_agreement,
                                  ("demonstrative_singular", "demonstrative_plural", "indefinite_article",
                                   "article_a_an")),
    "anaphor_gender_agreement": (anaphor_gender_agreement, ("name_subject", "noun_subject")),
    "anaphor_number_agreement": (anaphor_number_agreement, ("singular_subject", "plural_subject")),
    "irregular_past_tense": (irregular_past_tense, ("overregularised", "participle_for_past")),
    "argument_structure": (argument_structure, ("transitive", "intransitive")),
    "word_order": (word_order, ("adjective_noun", "determiner_noun", "adverb_adjective", "subject_verb")),
    "quantifiers": (quantifiers, ("every_each", "many_few", "numerals")),
    "negation": (negation, ("did_not_past", "does_not_present", "copula_order")),
    "pronoun_case": (pronoun_case, ("subject", "object", "after_preposition")),
    "copula_agreement": (copula_agreement, ("was_were", "is_are", "conjoined_subject")),
    "irregular_plural": (irregular_plural, ("regularised", "double_marked")),
}
