"""The one task registry: names, aliases, columns, benchmark folders, modality, chance."""

from __future__ import annotations

import pytest

from slmscale.errors import UserError
from slmscale.eval import formats
from slmscale.eval.tasks import TASKS, canonical_task, get_task, names, result_columns, task_parts


def test_registry_covers_speech_text_and_crossmodal_variants():
    assert names("speech") == ["swuggy", "sblimp", "ssc", "tsc"]
    assert names("text") == ["swuggy_text", "sblimp_text", "sstorycloze_text", "tstorycloze_text"]
    assert names(modality="cross") == ["sstorycloze_t2s", "sstorycloze_s2t", "tstorycloze_t2s", "tstorycloze_s2t"]
    assert result_columns() == list(TASKS) and all(t.chance == 0.5 for t in TASKS.values())
    assert get_task("tsc_t2s").folder == "tStoryCloze" and get_task("sblimp_text").folder == "syntactic"


@pytest.mark.parametrize("alias, name", [("sstorycloze", "ssc"), ("TStoryCloze", "tsc"), ("lexical", "swuggy"),
                                         ("ssc_text", "sstorycloze_text"), ("ssc_s2t", "sstorycloze_s2t")])
def test_aliases_resolve_to_one_name(alias, name):
    assert canonical_task(alias) == name


def test_unknown_task_is_one_line():
    with pytest.raises(UserError, match="unknown task 'swugy'") as err:
        get_task("swugy")
    assert "\n" not in str(err.value)


def test_formats_views_are_the_registry():
    assert formats.EVAL_TASKS == tuple(TASKS)
    assert formats.TASK_DIRS == {"swuggy": "lexical", "sblimp": "syntactic", "ssc": "sStoryCloze", "tsc": "tStoryCloze"}
    assert task_parts("tstorycloze_text") == ("tsc", "text") and formats.task_parts is task_parts
