"""sBLIMP-like minimal pairs in BLiMP's 12 categories, one template family per paradigm (subtype).

Each generator `gen(rng, subtype) -> (good, bad)` builds a grammatical sentence from the lexicon and
the same sentence broken in exactly one place: one word replaced by another, or the same words with
one word or phrase moved. The words that differ play the good role in some paradigms and the bad
role in others (singular vs plural subject, "what" with a gap vs "that" without one, past vs
participle after "has"), so neither member is systematically shorter or rarer; `pairs.sblimp_pairs`
then picks items so every surface baseline sits at chance, and `blimp_check.check_pair` verifies
each pair against its category's constraint. The category names are BLiMP's ("type"); the subtype
names follow BLiMP's paradigm names where one matches.
"""

from __future__ import annotations

import random
from typing import Callable

from slmscale.text.grammar import article, clean_sentence
from slmscale.text.lexicon import LEXICON, Noun, Verb

L = LEXICON
Pair = tuple[str, str]

# Verbs that never take a direct object, and verbs that always need one and cannot stand before a
# place phrase either ("grabbed at", "fed at", "hugged at the park" are grammatical, so not these).
STRICT_INTRANSITIVE = "sleep laugh smile sneeze yawn nap giggle snore arrive frown shiver sigh tremble".split()
STRICT_TRANSITIVE = "find like love want need bring thank fix".split()
# Animate, agentive intransitive verbs for agreement frames.
AGENT_INTRANSITIVE = ("run jump walk hop skip swim sleep cry laugh smile dance sing sit rest wait shout giggle nap "
                      "yawn sneeze cough snore crawl hurry").split()
GENDERED = {"boy": "m", "girl": "f", "king": "m", "queen": "f", "prince": "m", "princess": "f", "man": "m",
            "woman": "f", "mom": "f", "dad": "m", "mother": "f", "father": "m", "grandma": "f", "grandpa": "m",
            "brother": "m", "sister": "f"}
REFL = {"m": "himself", "f": "herself", "n": "itself", "p": "themselves"}
NUMBERS = "two three four five six seven eight nine ten".split()
TIMES = ["today", "again", "in the morning", "after lunch", "at night", "yesterday", "", ""]
PERFECT_TIMES = [t for t in TIMES if t != "yesterday"]  # "*has eaten it yesterday"
PRESENT_TIMES = ["every day", "in the morning", "after lunch", "at night", "now", "today", "", ""]
# Raising vs control: "There happened to be ..." / "*There tried to be ..."; "Lily wanted there to
# be ..." (exceptional case marking) / "*Lily told there to be ...".
RAISING = ["happened", "used"]
SUBJECT_CONTROL = ["tried", "wanted", "decided"]
ECM = ["wanted", "needed", "liked"]
OBJECT_CONTROL = ["told", "thanked", "called"]
STRONG_Q = ["every", "each", "all", "both"]  # not allowed there
EMBEDDING = ["knew", "heard", "forgot", "remembered"]  # take "what ..." and "that ..." clauses
SAY_VERBS = ["said", "thought", "heard", "knew"]  # "Who did Lily say that the dog chased?"
ANIMATE_OBJECT_VERBS = ["chase", "hug", "follow", "help", "tickle", "thank", "call"]


def _verb(base: str) -> Verb:
    return L.verb_index[base]


def _count_nouns(*classes: str) -> list[Noun]:
    """Countable nouns whose plural sounds different from the singular (not sheep, fish, deer)."""
    return [n for n in L.nouns_of(*classes) if n.plural != n.word]


ANIMATE = _count_nouns("animal", "person")
ANIMALS = _count_nouns("animal")
OBJECTS = _count_nouns("toy", "food", "thing", "clothing")
# Adjectives that are not also nouns ("orange"), so "that orange ..." has one reading.
ADJ_OBJ = [a for a in L.adjectives_of("colour") + L.adjectives_of("size") if a not in L.noun_index]
ADJ_PRED = L.adjectives_of("happy") + L.adjectives_of("sad")
NAMES = [n for n in L.names if n.kind == "child"]
NAMES_BY_GENDER = {g: [n for n in NAMES if n.gender == g] for g in ("m", "f")}
# Irregular verbs whose past and participle differ ("ate"/"eaten"), with an object or without.
PARTICIPLE_VERBS = [v for v in L.verbs if v.participle != v.past and v.participle != v.base
                    and (v.transitive or v.base in ("go", "fly", "fall", "swim", "grow"))]


def _place(rng: random.Random) -> str:
    p = rng.choice(L.places)
    return f"{p.prep} the {p.word}"


def _tail(rng: random.Random, present: bool = False, times: list[str] | None = None) -> str:
    """A place or a time phrase (present-tense frames get no "yesterday"; `times` overrides)."""
    return rng.choice([_place(rng), _place(rng), rng.choice(times or (PRESENT_TIMES if present else TIMES))])


def _object_for(rng: random.Random, verb: Verb, mass: bool = False) -> Noun:
    """An object the verb takes: a countable one if it has any; with `mass` (after "the"), a mass
    noun for a verb that only takes those ("drink": "the milk", never "the chair")."""
    nouns = [n for n in L.objects_for(verb) if n.plural != n.word] or L.objects_for(verb)
    if not nouns and mass:
        nouns = L.nouns_of(*verb.objects, countable=False)
    return rng.choice(nouns or OBJECTS)


def _name(rng: random.Random, gender: str | None = None) -> str:
    return rng.choice(NAMES_BY_GENDER[gender] if gender else NAMES).word


def _pair(good: list[str], bad: list[str]) -> Pair:
    return (clean_sentence(" ".join(p for p in good if p)), clean_sentence(" ".join(p for p in bad if p)))


def _number_flip(rng: random.Random, sg: list[str], pl: list[str], bad_sg: list[str], bad_pl: list[str]) -> Pair:
    """Half the pairs singular-good, half plural-good, so the marked form is good as often as bad."""
    return _pair(sg, bad_sg) if rng.random() < 0.5 else _pair(pl, bad_pl)


def subject_verb_agreement(rng: random.Random, subtype: str) -> Pair:
    n = rng.choice(ANIMATE)
    if subtype in ("regular_plural_subject_verb_agreement", "distractor_agreement_relational_noun"):
        v = _verb(rng.choice(AGENT_INTRANSITIVE))
        tail = _tail(rng, present=True)
        pre: list[str] = []
        if subtype == "distractor_agreement_relational_noun":  # the attractor has the other number
            a = rng.choice([x for x in ANIMATE if x is not n])
            prep = rng.choice(["near", "with", "behind"])
            pre_sg, pre_pl = [prep, "the", a.plural], [prep, "the", a.word]
        else:
            pre_sg = pre_pl = pre
        return _number_flip(rng, ["the", n.word, *pre_sg, v.third, tail], ["the", n.plural, *pre_pl, v.base, tail],
                            ["the", n.word, *pre_sg, v.base, tail], ["the", n.plural, *pre_pl, v.third, tail])
    adj = rng.choice(ADJ_PRED)
    present = subtype == "copula_is_are"
    tail = rng.choice((PRESENT_TIMES if present else TIMES) + [_place(rng)])
    sg_v, pl_v = ("is", "are") if present else ("was", "were")
    return _number_flip(rng, ["the", n.word, sg_v, adj, tail], ["the", n.plural, pl_v, adj, tail],
                        ["the", n.word, pl_v, adj, tail], ["the", n.plural, sg_v, adj, tail])


def determiner_noun_agreement(rng: random.Random, subtype: str) -> Pair:
    name = _name(rng)
    v = _verb(rng.choice(["see", "like", "want", "find", "need", "love", "bring", "fix"]))
    o = _object_for(rng, v)
    adj = rng.choice(ADJ_OBJ) if subtype == "determiner_noun_agreement_with_adjective" else ""
    sg_d, pl_d = rng.choice([("this", "these"), ("that", "those")])
    tail = _tail(rng)
    return _number_flip(rng, [name, v.past, sg_d, adj, o.word, tail], [name, v.past, pl_d, adj, o.plural, tail],
                        [name, v.past, sg_d, adj, o.plural, tail], [name, v.past, pl_d, adj, o.word, tail])


def anaphor_agreement(rng: random.Random, subtype: str) -> Pair:
    verb = rng.choice(["saw", "hurt", "washed", "hugged", "drew", "liked", "helped", "tickled"])
    tail = _tail(rng)
    if subtype == "anaphor_gender_agreement":
        g = rng.choice(["m", "f"])
        subj = rng.choice([_name(rng, g), "the " + rng.choice([w for w, x in GENDERED.items() if x == g])])
        return _pair([subj, verb, REFL[g], tail], [subj, verb, REFL["f" if g == "m" else "m"], tail])
    word = rng.choice(sorted(GENDERED) + [n.word for n in ANIMALS])
    sg = REFL[GENDERED.get(word, "n")]
    plural = L.noun_index[word].plural
    return _number_flip(rng, ["the", word, verb, sg, tail], ["the", plural, verb, "themselves", tail],  # type: ignore[list-item]
                        ["the", word, verb, "themselves", tail], ["the", plural, verb, sg, tail])  # type: ignore[list-item]


def binding(rng: random.Random, subtype: str) -> Pair:
    """Principle A: a reflexive needs an antecedent in its own clause, not the higher subject."""
    g = rng.choice(["m", "f"])
    other = "f" if g == "m" else "m"
    local, high = _name(rng, g), _name(rng, other)
    v = rng.choice(["hurt", "washed", "helped", "saw", "liked", "hugged"])
    base = L.verb_index[{"hurt": "hurt", "washed": "wash", "helped": "help", "saw": "see", "liked": "like",
                         "hugged": "hug"}[v]].base
    if subtype == "principle_A_domain":  # "Tom said that Lily hurt herself"
        say = rng.choice(["said", "thought", "knew"])
        return _pair([high, say, "that", local, v, REFL[g]], [high, say, "that", local, v, REFL[other]])
    tell = rng.choice(["told", "asked"])  # principle_A_control: "Tom told Lily to wash herself"
    return _pair([high, tell, local, "to", base, REFL[g]], [high, tell, local, "to", base, REFL[other]])


def argument_structure(rng: random.Random, subtype: str) -> Pair:
    name = _name(rng)
    if subtype == "transitive":  # a verb that needs an object has one; an intransitive one cannot
        v = _verb(rng.choice(STRICT_TRANSITIVE))
        bad = _verb(rng.choice(STRICT_INTRANSITIVE))
        o = _object_for(rng, v)
        tail = rng.choice([_place(rng), rng.choice(TIMES)])
        return _pair([name, v.past, "the", o.word, tail], [name, bad.past, "the", o.word, tail])
    v = _verb(rng.choice(STRICT_INTRANSITIVE))  # intransitive: an object-less transitive verb is bad
    bad = _verb(rng.choice(STRICT_TRANSITIVE))
    tail = _place(rng)
    return _pair([name, v.past, tail], [name, bad.past, tail])


def control_raising(rng: random.Random, subtype: str) -> Pair:
    if subtype == "existential_there_subject_raising":
        return _raising(rng, rng.choice(ANIMATE))
    name = _name(rng)  # existential_there_object_raising
    o = rng.choice(OBJECTS)
    q = rng.choice(["some", "two", "three", "many"])
    place = _place(rng)
    return _pair([name, rng.choice(ECM), "there to be", q, o.plural, place],  # type: ignore[list-item]
                 [name, rng.choice(OBJECT_CONTROL), "there to be", q, o.plural, place])  # type: ignore[list-item]


def _raising(rng: random.Random, n: Noun) -> Pair:
    q = rng.choice(["some", "two", "many", "no"])
    place = _place(rng)
    return _pair(["there", rng.choice(RAISING), "to be", q, n.plural, place],  # type: ignore[list-item]
                 ["there", rng.choice(SUBJECT_CONTROL), "to be", q, n.plural, place])  # type: ignore[list-item]


def ellipsis(rng: random.Random, subtype: str) -> Pair:
    """N-bar ellipsis: "... saw two red balls and Tom saw three" (an adjective cannot be stranded)."""
    a, b = rng.sample(NAMES, 2)
    v = _verb(rng.choice(["see", "find", "want", "like", "bring", "need"]))
    o = _object_for(rng, v)
    adj = rng.choice(ADJ_OBJ)
    n1, n2 = rng.sample(NUMBERS, 2)
    if subtype == "ellipsis_n_bar_1":
        return _pair([a.word, v.past, n1, adj, o.plural, "and", b.word, v.past, n2],  # type: ignore[list-item]
                     [a.word, v.past, n1, o.plural, "and", b.word, v.past, n2, adj])  # type: ignore[list-item]
    # ellipsis_n_bar_2: the same with "too" closing both
    return _pair([a.word, v.past, n1, adj, o.plural, "and", b.word, v.past, n2, "too"],  # type: ignore[list-item]
                 [a.word, v.past, n1, o.plural, "and", b.word, v.past, n2, adj, "too"])  # type: ignore[list-item]


def filler_gap_dependency(rng: random.Random, subtype: str) -> Pair:
    """A wh-word needs a gap and "that" needs none: "knew what Tom found" / "knew that Tom found it"."""
    a, b = rng.sample(NAMES, 2)
    know = rng.choice(EMBEDDING)
    v = _verb(rng.choice(STRICT_TRANSITIVE))
    tail = rng.choice(TIMES + [_place(rng)])
    if subtype == "wh_vs_that_with_gap":
        return _pair([a.word, know, "what", b.word, v.past, tail], [a.word, know, "that", b.word, v.past, tail])
    o = _object_for(rng, v)  # wh_vs_that_no_gap
    return _pair([a.word, know, "that", b.word, v.past, "the", o.word, tail],
                 [a.word, know, "what", b.word, v.past, "the", o.word, tail])


def irregular_forms(rng: random.Random, subtype: str) -> Pair:
    """Past after no auxiliary, participle after "has": "Lily ate the cake" / "Lily has eaten it"."""
    name = _name(rng)
    v = rng.choice(PARTICIPLE_VERBS)
    # the same tail in both subtypes, one that suits "has" too
    # ("went" takes no "at the park": a motion verb without a goal gets a time phrase)
    tail = rng.choice([t for t in PERFECT_TIMES if t]) if v.base == "go" else _tail(rng, times=PERFECT_TIMES)
    rest = ["the", _object_for(rng, v, mass=True).word, tail] if v.transitive else [tail]
    if subtype == "irregular_past_participle_verbs":
        return _pair([name, v.past, *rest], [name, v.participle, *rest])
    return _pair([name, "has", v.participle, *rest], [name, "has", v.past, *rest])  # irregular_past_after_has


def island_effects(rng: random.Random, subtype: str) -> Pair:
    """The gap may sit in the main clause, not inside an adjunct or a relative clause (same words)."""
    name = _name(rng)
    if subtype == "adjunct_island":
        v1 = _verb(rng.choice(STRICT_TRANSITIVE))
        v2 = _verb(rng.choice(["eat", "see", "find", "bring", "fix", "wash", "like"]))
        o = _object_for(rng, v2)
        when = rng.choice(["before", "after"])
        return _pair(["what did", name, v1.base, when, v2.ing, "the", o.word + "?"],
                     ["what did", name, v1.base, "the", o.word, when, v2.ing + "?"])
    say = rng.choice(["say", "think", "hear", "know"])  # complex_NP_island
    n = rng.choice(ANIMALS)
    v = _verb(rng.choice(ANIMATE_OBJECT_VERBS))
    return _pair(["who did", name, say, "that the", n.word, v.past + "?"],
                 ["who did", name, say, "the", n.word, "that", v.past + "?"])


def npi_licensing(rng: random.Random, subtype: str) -> Pair:
    """"ever" and "any" need a licensor (no, only, not, never) before them."""
    n = rng.choice(ANIMATE)
    v = _verb(rng.choice(["see", "find", "like", "want", "chase", "bring"]))
    o = _object_for(rng, v)
    tail = _place(rng)
    if subtype == "matrix_negative_determiner":  # "No dog ever saw a ball" / "*Every dog ever saw ..."
        a = article(o.word)
        other = rng.choice(["the", "every", "each", "one", "some", "that", "this", "his", "her", "one",
                            article(n.word)])
        return _pair(["no", n.word, "ever", v.past, a, o.word, tail], [other, n.word, "ever", v.past, a, o.word, tail])
    name = _name(rng)
    if subtype == "only_npi_licensor":  # "Only Lily ever ..." / "*Even Lily ever ..."
        a = article(o.word)
        if rng.random() < 0.5:  # "*Lily ever saw a ball only ...": the same words, "only" too late
            return _pair(["only", name, "ever", v.past, a, o.word, tail], [name, "ever", v.past, a, o.word, "only", tail])
        other = rng.choice(["even", "just", "also", "then", "so", "always", "suddenly"])
        return _pair(["only", name, "ever", v.past, a, o.word, tail], [other, name, "ever", v.past, a, o.word, tail])
    # npi_present: without a licensor, "some"/"never"/"soon" are fine where "any"/"ever" are not
    if rng.random() < 0.4:
        return _pair([name, v.past, "some", o.plural, tail], [name, v.past, "any", o.plural, tail])  # type: ignore[list-item]
    adv = rng.choice(["never", "soon", "then", "just"])
    return _pair([name, adv, v.past, "the", o.word, tail], [name, "ever", v.past, "the", o.word, tail])


def quantifiers(rng: random.Random, subtype: str) -> Pair:
    """Existential "there" takes weak quantifiers (a, some, two, no), not strong ones (every, all)."""
    n = rng.choice(ANIMATE)
    place = _place(rng)
    if subtype == "existential_there_quantifiers_singular":
        weak = rng.choice([article(n.word), "one", "no", "another"])
        return _pair(["there was", weak, n.word, place], ["there was", rng.choice(["every", "each"]), n.word, place])
    return _pair(["there were", rng.choice(["some", "two", "three", "no", "many", "several", "seven"]), n.plural, place],  # type: ignore[list-item]
                 ["there were", rng.choice(["all", "both"]), n.plural, place])  # type: ignore[list-item]


Generator = Callable[[random.Random, str], Pair]
PHENOMENA: dict[str, tuple[Generator, tuple[str, ...]]] = {
    "anaphor_agreement": (anaphor_agreement, ("anaphor_gender_agreement", "anaphor_number_agreement")),
    "argument_structure": (argument_structure, ("transitive", "intransitive")),
    "binding": (binding, ("principle_A_domain", "principle_A_control")),
    "control_raising": (control_raising, ("existential_there_subject_raising", "existential_there_object_raising")),
    "determiner_noun_agreement": (determiner_noun_agreement,
                                  ("determiner_noun_agreement", "determiner_noun_agreement_with_adjective")),
    "ellipsis": (ellipsis, ("ellipsis_n_bar_1", "ellipsis_n_bar_2")),
    "filler_gap_dependency": (filler_gap_dependency, ("wh_vs_that_with_gap", "wh_vs_that_no_gap")),
    "irregular_forms": (irregular_forms, ("irregular_past_participle_verbs", "irregular_past_after_has")),
    "island_effects": (island_effects, ("adjunct_island", "complex_NP_island")),
    "npi_licensing": (npi_licensing, ("matrix_negative_determiner", "only_npi_licensor", "npi_present")),
    "quantifiers": (quantifiers, ("existential_there_quantifiers_singular", "existential_there_quantifiers_plural")),
    "subject_verb_agreement": (subject_verb_agreement,
                               ("regular_plural_subject_verb_agreement", "distractor_agreement_relational_noun",
                                "copula_is_are", "copula_was_were")),
}
