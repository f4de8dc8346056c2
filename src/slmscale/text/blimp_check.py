"""An independent check of sBLIMP pairs: minimal difference, and each category's constraint.

`licensed(phenomenon, words)` re-reads a sentence (lower-case words) and says whether it satisfies
the category's constraint, from the lexicon alone (not from how the generator built it).
`check_pair(phenomenon, good, bad)` returns None when the pair is right (only lexicon words, the
good sentence licensed, the bad one not, the two minimally different: one word replaced, or the
same words with one contiguous stretch moved), else a one-line reason. A mislabelled pair (good
and bad swapped, or a bad member that is in fact grammatical) fails it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from slmscale.text import pairs_blimp as pb
from slmscale.text.grammar import split_words
from slmscale.text.lexicon import LEXICON as L

REFLEXIVES = {"himself": "m", "herself": "f", "itself": "n", "themselves": "p"}
NPI = {"ever", "any"}
LICENSORS = {"no", "only", "not", "never"}


@lru_cache(maxsize=1)
def _forms() -> dict[str, set[str]]:
    nouns = [n for n in L.nouns if n.countable]
    verbs = L.verbs
    return {
        "singular": {n.word for n in nouns}, "plural": {n.plural for n in nouns if n.plural},
        "third": {v.third for v in verbs} | {"is", "was"}, "base": {v.base for v in verbs} | {"are", "were"},
        "past": {v.past for v in verbs}, "participle": {v.participle for v in verbs},
        "names_m": {n.word.lower() for n in L.names if n.gender == "m"},
        "names_f": {n.word.lower() for n in L.names if n.gender == "f"},
    }


def _number(noun: str) -> str | None:
    f = _forms()
    if noun in f["plural"] and noun not in f["singular"]:
        return "p"
    if noun in f["singular"] and noun not in f["plural"]:
        return "s"
    return None


def _gender(word: str) -> str | None:
    f = _forms()
    if word in f["names_m"]:
        return "m"
    if word in f["names_f"]:
        return "f"
    if word in pb.GENDERED:
        return pb.GENDERED[word]
    number = _number(word)
    return "p" if number == "p" else "n" if number == "s" else None


def _anaphor(w: list[str]) -> bool:
    refl = next((x for x in w if x in REFLEXIVES), None)
    subj = w[1] if w[0] == "the" else w[0]
    return refl is not None and _gender(subj) == REFLEXIVES[refl]


def _binding(w: list[str]) -> bool:
    # The local subject: right after "that" (principle_A_domain) or after told/asked (control).
    i = w.index("that") + 1 if "that" in w else 2
    return w[-1] in REFLEXIVES and _gender(w[i]) == REFLEXIVES[w[-1]]


def _argument(w: list[str]) -> bool:
    past = {pb.L.verb_index[b].past: b for b in pb.STRICT_TRANSITIVE + pb.STRICT_INTRANSITIVE}
    has_object = len(w) > 2 and w[2] == "the"
    base = past.get(w[1])
    if base is None:
        raise ValueError(f"cannot judge the verb {w[1]!r}: not in the strict (in)transitive lists")
    return has_object == (base in pb.STRICT_TRANSITIVE)


def _control(w: list[str]) -> bool:
    if w[1] not in pb.RAISING + pb.SUBJECT_CONTROL + pb.ECM + pb.OBJECT_CONTROL:
        raise ValueError(f"cannot judge the verb {w[1]!r}")
    if w[0] == "there":
        return w[1] in pb.RAISING
    return w[2] == "there" and w[1] in pb.ECM


def _determiner(w: list[str]) -> bool:
    i = next(k for k, x in enumerate(w) if x in ("this", "that", "these", "those"))
    adjectives = {a.word for a in L.adjectives}
    noun = None
    for x in w[i + 1:]:  # the head is the last noun of the adjective/noun run after the determiner
        if _number(x):
            noun = x
        elif x not in adjectives:
            break
    return noun is not None and (_number(noun) == "p") == (w[i] in ("these", "those"))


def _ellipsis(w: list[str]) -> bool:
    last = w[-2] if w[-1] == "too" else w[-1]
    return last in pb.NUMBERS


def _filler_gap(w: list[str]) -> bool:
    i = next(k for k, x in enumerate(w) if x in ("what", "that"))
    gap = not (len(w) > i + 3 and w[i + 3] == "the")
    return (w[i] == "what") == gap


def _irregular(w: list[str]) -> bool:
    f = _forms()
    if w[1] == "has":
        return w[2] in f["participle"] and w[2] not in f["past"]
    return w[1] in f["past"] and w[1] not in f["participle"]


def _island(w: list[str]) -> bool:
    if w[0] == "what":  # adjunct island: the gap must follow the main verb directly
        return w[4] in ("before", "after")
    return w[-3:-1] != ["that"] and w[4] == "that"  # complex NP: not "... the dog that chased?"


def _npi(w: list[str]) -> bool:
    for i, x in enumerate(w):
        if x in NPI:
            return any(y in LICENSORS for y in w[:i])
    return True


def _quantifiers(w: list[str]) -> bool:
    return w[0] == "there" and w[1] in ("was", "were") and w[2] not in pb.STRONG_Q


def _agreement(w: list[str]) -> bool:
    f = _forms()
    head = _number(w[1])
    verb = next((x for x in w[2:] if x in f["third"] or x in f["base"]), None)
    if head is None or verb is None:
        return False
    # skip the attractor of "the dog near the cats runs": the verb follows the whole subject
    if w[2] in ("near", "with", "behind"):
        verb = next((x for x in w[5:] if x in f["third"] or x in f["base"]), None)
    return verb is not None and (verb in f["third"]) == (head == "s")


CONSTRAINTS: dict[str, Callable[[list[str]], bool]] = {
    "anaphor_agreement": _anaphor, "argument_structure": _argument, "binding": _binding,
    "control_raising": _control, "determiner_noun_agreement": _determiner, "ellipsis": _ellipsis,
    "filler_gap_dependency": _filler_gap, "irregular_forms": _irregular, "island_effects": _island,
    "npi_licensing": _npi, "quantifiers": _quantifiers, "subject_verb_agreement": _agreement,
}


def licensed(phenomenon: str, sentence: str) -> bool | None:
    """Does the sentence satisfy the phenomenon's constraint? None: not a shape the check can judge."""
    try:
        return CONSTRAINTS[phenomenon](split_words(sentence))
    except (IndexError, StopIteration, ValueError):
        return None


def minimal(good: str, bad: str) -> bool:
    """One word replaced, or the same words with one contiguous stretch moved elsewhere."""
    g, b = split_words(good), split_words(bad)
    if len(g) != len(b) or g == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(g, b)) if x != y]
    if len(diff) == 1:
        return True
    if sorted(g) != sorted(b):
        return False
    for i in range(len(g)):
        for j in range(i + 1, len(g) + 1):
            rest = g[:i] + g[j:]
            for k in range(len(rest) + 1):
                if rest[:k] + g[i:j] + rest[k:] == b:
                    return True
    return False


def check_pair(phenomenon: str, good: str, bad: str) -> str | None:
    """None if the pair is right, else why not."""
    if phenomenon not in CONSTRAINTS:
        return f"unknown phenomenon {phenomenon!r}"
    unknown = [w for w in split_words(good) + split_words(bad) if w not in L.word_forms]
    if unknown:
        return f"word(s) outside the lexicon: {', '.join(sorted(set(unknown)))}"
    if not minimal(good, bad):
        return "not a minimal pair (more than one word replaced or moved)"
    ok_good, ok_bad = licensed(phenomenon, good), licensed(phenomenon, bad)
    if ok_good is None or ok_bad is None:
        return f"cannot judge the pair against the {phenomenon} constraint: {good!r} / {bad!r}"
    if not ok_good:
        return f"good sentence violates the {phenomenon} constraint: {good!r}"
    if ok_bad:
        return f"bad sentence satisfies the {phenomenon} constraint: {bad!r}"
    return None
