"""Schema machinery: casting, templates, endings."""

from __future__ import annotations

import random

import pytest

from slmscale.text.schemas import SCHEMAS, Ctx, schema


def test_cast_is_consistent_and_not_reused():
    ctx = Ctx(random.Random(0))
    a, b = ctx.child("A", "f"), ctx.child("B", "m")
    assert a.gender == "f" and b.gender == "m" and a.name != b.name
    assert (a.he, a.him, a.his, a.himself) == ("she", "her", "her", "herself")
    o = ctx.thing("O", ("toy",))
    x = ctx.thing("X", ("toy",))
    assert o.noun.word != x.noun.word
    ctx.say("{A} gave {O.a} to {B}. {A.he} smiled at {B.him}.")
    assert ctx.draft.sentences[0].startswith(f"{a.name} gave {o.a} to {b.name}.")
    assert ctx.draft.entities == {"A": a.name, "B": b.name, "O": o.full, "X": x.full}


def test_articles_and_capitals_in_templates():
    ctx = Ctx(random.Random(3))
    ctx.animal("D", ("owl",))
    ctx.place("P", ("garden",))
    ctx.say("{D} lived {P.at}")
    assert ctx.draft.sentences == ["The owl lived in the garden."]


def test_end_requires_a_different_bad_ending():
    ctx = Ctx(random.Random(0))
    ctx.child("A")
    with pytest.raises(ValueError, match="identical"):
        ctx.end(("{A} smiled.", "{A} smiled.", "emotion"))
    ctx.end(("{A} smiled.", "{A} cried.", "emotion"))
    assert ctx.draft.bad_kind == "emotion" and ctx.draft.bad_ending.endswith("cried.")


def test_registry_rejects_duplicates():
    assert len(SCHEMAS) >= 20
    with pytest.raises(ValueError, match="duplicate"):
        schema("race")(lambda c: None)
