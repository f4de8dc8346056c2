"""The lexicon has the size and features the stories and benchmarks rely on."""

from __future__ import annotations

from slmscale.text.lexicon import LEXICON


def test_size_and_classes():
    assert len(LEXICON.lemmas()) >= 600
    assert len(LEXICON.lemmas()) == len(set(LEXICON.lemmas()))
    for cls in ("animal", "toy", "food", "thing", "clothing", "person"):
        assert len(LEXICON.nouns_of(cls)) >= 10, cls
    assert len(LEXICON.places) >= 30
    for cls in ("size", "colour", "happy", "sad"):
        assert len(LEXICON.adjectives_of(cls)) >= 8
    assert {"every", "many", "few", "some", "two"} <= set(LEXICON.quantifiers)


def test_names_have_gender():
    girls, boys = LEXICON.names_of("child", "f"), LEXICON.names_of("child", "m")
    assert len(girls) >= 30 and len(boys) >= 30
    assert not {n.word for n in girls} & {n.word for n in boys}


def test_irregular_plurals_and_mass_nouns():
    idx = LEXICON.noun_index
    assert idx["mouse"].plural == "mice" and idx["child"].plural == "children" and idx["sheep"].plural == "sheep"
    assert idx["wolf"].irregular and not idx["cat"].irregular
    assert idx["milk"].plural is None and not idx["milk"].countable
    assert sum(n.irregular for n in LEXICON.nouns) >= 10


def test_verbs_forms_and_frames():
    v = LEXICON.verb_index
    assert (v["go"].past, v["go"].participle, v["go"].third) == ("went", "gone", "goes")
    assert (v["eat"].past, v["eat"].participle) == ("ate", "eaten")
    assert v["hug"].past == "hugged" and v["hug"].ing == "hugging"
    assert v["eat"].transitive and not v["sleep"].transitive and v["sleep"].frame == "intransitive"
    assert sum(x.irregular for x in LEXICON.verbs) >= 40
    assert len(LEXICON.transitive_verbs) >= 50 and len(LEXICON.intransitive_verbs) >= 40
    for verb in LEXICON.transitive_verbs:  # every transitive verb can find a plausible object
        assert LEXICON.nouns_of(*verb.objects, countable=None), verb.base
    assert {n.word for n in LEXICON.objects_for(v["eat"])} <= {n.word for n in LEXICON.nouns_of("food")}


def test_word_forms_cover_inflections():
    forms = LEXICON.word_forms
    assert {"mice", "went", "ate", "eaten", "runs", "running", "children", "lily"} <= forms
