"""Alignment readers: slamkit JSON and MFA TextGrid, and their validation."""

from __future__ import annotations

import json

import pytest

from slmscale.data.sources.alignments import AlignmentError, check_words, read_alignment


def test_slamkit_json(tmp_path):
    p = tmp_path / "u.json"
    p.write_text(json.dumps({"aligned_text": [["the", 0, 0.12], ["cat", 0.12, 0.5]], "other": 1}))
    assert read_alignment(p) == [("the", 0.0, 0.12), ("cat", 0.12, 0.5)]


@pytest.mark.parametrize("content, phrase", [
    ("{oops", "not valid JSON"),
    ('{"text": []}', "no \"aligned_text\""),
    ('{"aligned_text": {"a": 1}}', "not a list"),
    ('{"aligned_text": [["a", 0.1]]}', "aligned_text[0]"),
    ('{"aligned_text": [["a", "0", 1]]}', "aligned_text[0]"),
    ('{"aligned_text": [[1, 0, 1]]}', "aligned_text[0]"),
])
def test_slamkit_json_errors(tmp_path, content, phrase):
    p = tmp_path / "u.json"
    p.write_text(content)
    with pytest.raises(AlignmentError) as info:
        read_alignment(p)
    assert phrase in info.value.reason and "\n" not in str(info.value)


def test_mfa_textgrid_words_tier(tmp_path):
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier

    tg = textgrid.Textgrid()
    tg.addTier(IntervalTier("phones", [(0.0, 0.1, "DH"), (0.1, 0.2, "AH0")], 0, 1.0))
    tg.addTier(IntervalTier("Words", [(0.0, 0.2, "the"), (0.2, 0.35, "<eps>"), (0.35, 0.8, "cat"),
                                      (0.8, 0.9, "spn")], 0, 1.0))
    tg.save(str(tmp_path / "u.TextGrid"), format="short_textgrid", includeBlankSpaces=True)
    assert read_alignment(tmp_path / "u.TextGrid") == [("the", 0.0, 0.2), ("cat", 0.35, 0.8)]

    tg2 = textgrid.Textgrid()
    tg2.addTier(IntervalTier("phones", [(0.0, 0.1, "DH")], 0, 1.0))
    tg2.save(str(tmp_path / "p.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    with pytest.raises(AlignmentError, match="no 'words' tier"):
        read_alignment(tmp_path / "p.TextGrid")
    (tmp_path / "bad.TextGrid").write_text("File type = garbage")
    with pytest.raises(AlignmentError, match="not a readable TextGrid"):
        read_alignment(tmp_path / "bad.TextGrid")
    with pytest.raises(AlignmentError, match="unknown alignment type"):
        read_alignment(tmp_path / "x.csv")


def test_check_words():
    assert check_words([("a", 0.0, 0.5), ("b", 0.5, 1.02)], 1.0) == [("a", 0.0, 0.5), ("b", 0.5, 1.0)]
    for words, phrase in [([("a", 0.5, 0.4)], "bad times"), ([("a", -0.1, 0.4)], "bad times"),
                          ([("a", 0.5, 0.6), ("b", 0.1, 0.2)], "before the previous"),
                          ([("a", 0.0, 1.2)], "after the audio"),
                          ([("a", 0.0, float("nan"))], "non-finite")]:
        with pytest.raises(AlignmentError, match=phrase):
            check_words(words, 1.0)
