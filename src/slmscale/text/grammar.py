"""English realisation rules: plurals, verb forms, articles, pronouns, sentence cleanup, word splitting."""

from __future__ import annotations

import re

VOWELS = "aeiou"
# Words whose spelling misleads the a/an rule (sound decides, not letter).
_AN_EXCEPTIONS = {"hour", "honest", "honour", "honor"}
_A_EXCEPTIONS_PREFIX = ("uni", "use", "usu", "eu", "one", "ukulele")


def regular_plural(noun: str) -> str:
    """cat -> cats, box -> boxes, puppy -> puppies (irregulars are listed in the lexicon data)."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in VOWELS:
        return noun[:-1] + "ies"
    return noun + "s"


def third_person(verb: str) -> str:
    """run -> runs, fix -> fixes, cry -> cries, go -> goes."""
    if verb in ("have",):
        return "has"
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in VOWELS:
        return verb[:-1] + "ies"
    return verb + "s"


def regular_past(verb: str) -> str:
    """jump -> jumped, smile -> smiled, cry -> cried (doubling is listed in the lexicon data)."""
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in VOWELS:
        return verb[:-1] + "ied"
    return verb + "ed"


def present_participle(verb: str, past: str) -> str:
    """run -> running (doubling follows the past form: hopped -> hopping), make -> making, tie -> tying."""
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")) and verb != "be":
        return verb[:-1] + "ing"
    doubled = verb + verb[-1]
    if past.startswith(doubled) or verb in ("run", "swim", "sit", "spin", "cut", "win", "begin", "get", "put", "dig", "forget", "hit", "let"):
        return doubled + "ing"
    return verb + "ing"


def article(word: str) -> str:
    """'a' or 'an' for the word that follows (by sound, approximated by spelling plus exceptions)."""
    w = word.lower()
    if w in _AN_EXCEPTIONS:
        return "an"
    if w.startswith(_A_EXCEPTIONS_PREFIX):
        return "a"
    return "an" if w[:1] in VOWELS else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase.split()[0])} {phrase}"


# Pronoun table: gender -> case -> form. "f"/"m"/"n" singular, "p" plural.
PRONOUNS = {
    "f": {"subj": "she", "obj": "her", "poss": "her", "refl": "herself"},
    "m": {"subj": "he", "obj": "him", "poss": "his", "refl": "himself"},
    "n": {"subj": "it", "obj": "it", "poss": "its", "refl": "itself"},
    "p": {"subj": "they", "obj": "them", "poss": "their", "refl": "themselves"},
}


def pronoun(gender: str, case: str) -> str:
    return PRONOUNS[gender][case]


def capitalize_first(text: str) -> str:
    """Upper-case the first letter (after any opening quote) and leave the rest alone."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1:]
    return text


_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")


def clean_sentence(text: str) -> str:
    """Collapse whitespace, drop spaces before punctuation, capitalise, ensure final punctuation."""
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text).strip())
    text = capitalize_first(text)
    if text and text[-1] not in ".!?\"":
        text += "."
    return text


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")


def split_words(text: str) -> list[str]:
    """Lower-case words without punctuation, the way word alignments name them.

    Letters, digits and inner apostrophes are kept ("don't", "lily's"); hyphens and every other
    character separate words ("ice-cream" -> ["ice", "cream"]). Curly apostrophes count as "'".
    """
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return _WORD.findall(text)


def normalize_key(text: str) -> str:
    """The word sequence as one string: equal for texts a listener cannot tell apart."""
    return " ".join(split_words(text))
