"""Readers of official layouts on folders written here, and mismatch errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from slmscale.errors import UserError
from slmscale.eval.formats import (EVAL_TASKS, GOLD_COLUMNS, canonical_task, frequency_band, load_benchmark,
                                   read_storycloze, read_text_pairs, read_zerospeech, task_parts, write_csv)


def wav(path, seconds=0.05):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)


def lexical_split(root, rows):
    d = root / "lexical" / "dev"
    for r in rows:
        wav(d / f"{r['filename']}.wav")
    write_csv(d / "gold.csv", GOLD_COLUMNS["swuggy"], rows)
    return d


ROWS = [
    dict(id="1", filename="a1", voice="v1", frequency="7", word="dog", phones="d o g", length=3, correct=1),
    dict(id="1", filename="a2", voice="v1", frequency="", word="dag", phones="d a g", length=3, correct=0),
    dict(id="1", filename="a3", voice="v1", frequency="", word="dop", phones="d o p", length=3, correct=0),
    dict(id="1", filename="a4", voice="v2", frequency="7", word="dog", phones="d o g", length=3, correct=1),
    dict(id="1", filename="a5", voice="v2", frequency="", word="dag", phones="d a g", length=3, correct=0),
]


def test_read_zerospeech_lexical_pairs_word_with_each_nonword(tmp_path):
    lexical_split(tmp_path, ROWS)
    b = load_benchmark(tmp_path, "swuggy", "dev")
    assert b.task == "swuggy" and b.split == "dev" and b.modality == "audio"
    got = sorted((p.voice, p.good, p.bad) for p in b.pairs)
    assert got == [("v1", "a1", "a2"), ("v1", "a1", "a3"), ("v2", "a4", "a5")]
    assert {p.group["frequency"] for p in b.pairs} == {"5-20"}
    assert b.keys == ["a1", "a2", "a3", "a4", "a5"]


def test_mismatch_lists_missing_and_extra(tmp_path):
    d = lexical_split(tmp_path, ROWS)
    (d / "a3.wav").unlink()
    wav(d / "zz.wav")
    with pytest.raises(UserError) as err:
        read_zerospeech(d, "swuggy")
    msg = str(err.value)
    assert "1 missing" in msg and "a3" in msg and "1 extra" in msg and "zz" in msg
    assert "\n" not in msg


def test_incomplete_group_and_bad_flag(tmp_path):
    d = lexical_split(tmp_path, ROWS[:3] + [dict(ROWS[3], id="2")])
    with pytest.raises(UserError, match="2/v2"):
        read_zerospeech(d, "swuggy")
    bad = [dict(r) for r in ROWS]
    bad[0]["correct"] = "yes"
    d = lexical_split(tmp_path / "b", bad)
    with pytest.raises(UserError, match="gold.csv:2: column 'correct'"):
        read_zerospeech(d, "swuggy")


def test_missing_gold_and_columns(tmp_path):
    (tmp_path / "test").mkdir()
    with pytest.raises(UserError, match="no gold.csv"):
        read_zerospeech(tmp_path / "test", "sblimp")
    d = tmp_path / "x"
    wav(d / "f.wav")
    (d / "gold.csv").write_text("id,filename\n1,f\n")
    with pytest.raises(UserError, match="missing column"):
        read_zerospeech(d, "sblimp")


def test_syntactic_groups_by_type(tmp_path):
    d = tmp_path / "syntactic" / "dev"
    rows = []
    for i, (t, s) in enumerate([("agr", "sv"), ("neg", "any")]):
        for v in ("v1", "v2"):
            for c in (1, 0):
                fn = f"s{i}{v}{c}"
                wav(d / f"{fn}.wav")
                rows.append(dict(id=str(i), filename=fn, voice=v, type=t, subtype=s, correct=c,
                                 transcription="x"))
    write_csv(d / "gold.csv", GOLD_COLUMNS["sblimp"], rows)
    b = load_benchmark(tmp_path, "sblimp")
    assert len(b.pairs) == 4
    assert {(p.pair_id, p.group["type"], p.group["subtype"]) for p in b.pairs} == {("0", "agr", "sv"),
                                                                                  ("1", "neg", "any")}


def test_storycloze_by_index_and_by_names(tmp_path):
    d = tmp_path / "sStoryCloze"
    rows = []
    for v in ("v1", "v2"):
        for i in ("s1", "s2"):
            wav(d / v / f"{i}_correct.wav")
            wav(d / v / f"{i}_incorrect.wav")
            rows.append(dict(id=i, voice=v, correct=f"{v}/{i}_correct.wav",
                             incorrect=f"{v}/{i}_incorrect.wav", kind="object"))
    without = read_storycloze(d, "ssc")
    write_csv(d / "index.csv", ["id", "voice", "correct", "incorrect", "kind"], rows)
    b = load_benchmark(tmp_path, "sstorycloze")
    assert b.task == "ssc" and len(b.pairs) == 4 and b.pairs[0].group == {"kind": "object"}
    assert {(p.pair_id, p.voice, p.good, p.bad) for p in b.pairs} == \
        {(p.pair_id, p.voice, p.good, p.bad) for p in without.pairs}
    (d / "v2" / "s2_incorrect.wav").unlink()
    with pytest.raises(UserError, match="missing.*v2/s2_incorrect"):
        read_storycloze(d, "ssc")
    (d / "index.csv").unlink()
    with pytest.raises(UserError, match="without a \\*_correct/\\*_incorrect partner: v2/s2_correct"):
        read_storycloze(d, "ssc")


def test_text_jsonl_blimp_style(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [
        {"sentence_good": "a dog runs", "sentence_bad": "a dog run", "phenomenon": "agr", "UID": "sv"},
        {"sentence_good": "b", "sentence_bad": "c", "linguistics_term": "neg", "pairID": "7"},
    ]) + "\n")
    b = read_text_pairs(p, "sblimp")
    assert b.modality == "text"
    assert [(x.pair_id, x.group) for x in b.pairs] == [("1", {"type": "agr", "subtype": "sv"}),
                                                       ("7", {"type": "neg"})]
    assert b.texts["1_good"] == "a dog runs" and b.texts["1_bad"] == "a dog run"
    p.write_text('{"sentence_good": "x"}\n')
    with pytest.raises(UserError, match="t.jsonl:1: needs string fields"):
        read_text_pairs(p, "sblimp")


def test_frequency_band_and_unknown_task():
    assert [frequency_band(x) for x in ("", "0", "3", "5", "42", "1000", "high")] == \
        ["", "oov", "1-5", "5-20", "20-100", "100+", "high"]
    with pytest.raises(UserError, match="unknown task"):
        load_benchmark(".", "nope")


def test_task_registry_names_and_aliases():
    assert EVAL_TASKS[:4] == ("swuggy", "sblimp", "ssc", "tsc")
    assert {t for t in EVAL_TASKS if t.endswith(("_t2s", "_s2t"))} == {
        "sstorycloze_t2s", "sstorycloze_s2t", "tstorycloze_t2s", "tstorycloze_s2t"}
    assert [task_parts(t) for t in ("sstorycloze", "sblimp_text", "ssc_text", "tsc_s2t", "SStoryCloze_T2S")] == \
        [("ssc", "speech"), ("sblimp", "text"), ("ssc", "text"), ("tsc", "s2t"), ("ssc", "t2s")]
    assert canonical_task("tsc_t2s") == "tstorycloze_t2s" and canonical_task("ssc_text") == "sstorycloze_text"
    with pytest.raises(UserError, match="unknown task 'ssc_x'"):
        canonical_task("ssc_x")


def test_storycloze_pair_reader_ignores_the_crossmodal_folder(tmp_path):
    d = tmp_path / "sStoryCloze"
    for i in ("s1", "s2"):
        wav(d / "v1" / f"{i}_correct.wav")
        wav(d / "v1" / f"{i}_incorrect.wav")
        for name in ("context", "ending_correct", "ending_incorrect"):
            wav(d / "crossmodal" / "v1" / f"{i}_{name}.wav")
    b = read_storycloze(d, "ssc")  # by names: crossmodal/*_correct.wav would otherwise pair up
    assert sorted(b.audio) == ["v1/s1_correct", "v1/s1_incorrect", "v1/s2_correct", "v1/s2_incorrect"]
    write_csv(d / "index.csv", ["id", "voice", "correct", "incorrect"],
              [dict(id=i, voice="v1", correct=f"v1/{i}_correct.wav", incorrect=f"v1/{i}_incorrect.wav")
               for i in ("s1", "s2")])
    assert len(read_storycloze(d, "ssc").pairs) == 2  # by index: no "extra wav" error
