"""Story schemas: the machinery that turns a plot skeleton into consistent sentences.

A schema is a function `schema(ctx) -> None` registered with `@schema("name")`. It casts characters,
objects and places once (so they stay the same across the story), then emits sentences slot by slot,
each slot choosing one of several templates. The last slot is `ctx.end(...)`: the real ending plus a
coherent-but-wrong ending of a named kind (wrong object, character, outcome or emotion), which is
what the StoryCloze-like benchmark uses as its adversarial ending.

Templates are `str.format` strings over the cast: `{A}` the hero ("Lily" / "the dog"), `{A.he}`,
`{A.him}`, `{A.his}`, `{A.himself}` pronouns by the hero's gender, `{O.the}`, `{O.a}`, `{O.full}`
("red ball"), `{P.at}` ("in the garden"), `{P.to}`, ... The first letter of a sentence is capitalised
by `clean_sentence`, so templates may start with a lower-case `{A}`.
"""

from __future__ import annotations

from slmscale.text.schema_base import SCHEMAS, Char, Ctx, Draft, Thing, emotion_pair, other_thing, schema

# The story schemas register themselves with `@schema` when imported.
from slmscale.text import schemas_adventure, schemas_daily, schemas_feelings, schemas_outings  # noqa: F401

__all__ = ["SCHEMAS", "Char", "Ctx", "Draft", "Thing", "emotion_pair", "other_thing", "schema"]
