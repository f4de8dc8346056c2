"""Reading real text: paragraphs, TinyStories JSONL, whitespace cleanup, errors with file and line."""

from __future__ import annotations

import json

import pytest

from slmscale.errors import UserError
from slmscale.text.reader import read_texts, read_texts_counted


def test_paragraphs_become_stories_with_clean_whitespace(tmp_path):
    p = tmp_path / "stories.txt"
    p.write_text("\n\nOnce upon a time,\n  there was a cat.\tIt was red.\n\n\n\nTom ran.\r\nHe fell.\n   \n", "utf-8")
    assert read_texts(p) == ["Once upon a time, there was a cat. It was red.", "Tom ran. He fell."]


def test_jsonl_text_field(tmp_path):
    p = tmp_path / "ts.jsonl"
    rows = [{"text": "Lily had a ball.\n\nShe liked it.", "id": 1}, {"text": "   "}, {"text": "Tom ran."}]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", "utf-8")
    texts, empty = read_texts_counted(p)
    assert texts == ["Lily had a ball. She liked it.", "Tom ran."]
    assert empty == 1


def test_jsonl_detected_without_suffix_and_bom_accepted(tmp_path):
    p = tmp_path / "data.txt"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"text": "A dog."}).encode() + b"\n")
    assert read_texts(p) == ["A dog."]


@pytest.mark.parametrize("line, message", [
    ('{"text": "ok"}\n{"txt": "x"}\n', r"ts\.jsonl:2: .*no \"text\" field"),
    ('{"text": "ok"}\n{"text": 5}\n', r"ts\.jsonl:2: \"text\" must be a string"),
    ('{"text": "ok"}\n\n{oops\n', r"ts\.jsonl:3: not valid JSON"),
])
def test_bad_jsonl_names_file_and_line(tmp_path, line, message):
    p = tmp_path / "ts.jsonl"
    p.write_text(line, "utf-8")
    with pytest.raises(UserError, match=message):
        read_texts(p)


def test_missing_empty_and_binary_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_texts(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n \n", "utf-8")
    with pytest.raises(UserError, match="no stories"):
        read_texts(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"fine\nline two\n\xff\xfe\x00")
    with pytest.raises(UserError, match=r"bin\.txt:3: not UTF-8"):
        read_texts(tmp_path / "bin.txt")


def test_json_array_files(tmp_path):
    p = tmp_path / "data00.json"
    p.write_text(json.dumps([{"story": "Tom ran.\n", "instruction": {}}, {"text": "A  cat."}, {"story": ""}]), "utf-8")
    assert read_texts_counted(p) == (["Tom ran.", "A cat."], 1)
    p.write_text(json.dumps([{"text": "ok"}, {"title": "x"}]), "utf-8")
    with pytest.raises(UserError, match=r"data00\.json: item 1 "):
        read_texts(p)
    p.write_text('[{"text": "ok"},\n oops]', "utf-8")
    with pytest.raises(UserError, match=r"data00\.json:2: not valid JSON"):
        read_texts(p)


def test_split_sentences():
    from slmscale.text.reader import split_sentences

    text = 'The cat sat.  It was warm!\n"Go home," she said. "Yes!" He ran? and then'
    assert split_sentences(text) == ["The cat sat.", "It was warm!", '"Go home," she said.', '"Yes!"',
                                     "He ran?", "and then"]
    assert split_sentences("no end mark") == ["no end mark"] and split_sentences("  ") == []
