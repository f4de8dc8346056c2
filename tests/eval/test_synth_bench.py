"""Synthetic benchmark builder: official layouts read back, voices, cache, drops, no leakage."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from slmscale.audio.tts import Skipped
from slmscale.audio.voices import SPEAKER_TEST_VOICES, TEST_VOICES, TRAIN_VOICES
from slmscale.errors import UserError
from slmscale.eval import synth_bench as build
from slmscale.eval.synth_bench import BenchConfig, _items, build_bench, resolve_voices
from slmscale.eval.formats import load_benchmark


def fake_tts(fail=()):
    """Writes a short silent wav per item instead of speaking; items in `fail` are skipped."""
    calls, spoken = [], []

    def synthesize_many(items, out_dir, workers=None, split=None, description=""):
        calls.append(len(items))
        spoken.extend(items)
        skipped = []
        for it in items:
            if it.id in fail:
                skipped.append(Skipped(it.id, "synthesis failed"))
                continue
            path = out_dir / it.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, np.zeros(160, np.float32), 16000)
        return [], skipped

    synthesize_many.calls = calls
    synthesize_many.items = spoken
    return synthesize_many


def test_layouts_read_back_with_text_versions(tmp_path, monkeypatch):
    tts = fake_tts()
    monkeypatch.setattr("slmscale.audio.tts.synthesize_many", tts)
    meta = build_bench(BenchConfig(n=2, seed=3, voices=["us-f1", "carib-f5"]), tmp_path)
    assert set(meta["tasks"]) == {"swuggy", "sblimp", "ssc", "tsc"}
    sw = load_benchmark(tmp_path, "swuggy")
    assert len(sw.pairs) == 2 * 2 and {p.voice for p in sw.pairs} == {"us-f1", "carib-f5"}
    assert {p.group["frequency"] for p in sw.pairs} <= {"high", "mid", "low"}
    sb = load_benchmark(tmp_path, "sblimp")
    phenomena = {p.group["type"] for p in sb.pairs}
    assert len(phenomena) >= 10 and len(sb.pairs) == 2 * 2 * len(phenomena)
    # file names do not reveal which item is correct
    with open(tmp_path / "syntactic" / "dev" / "gold.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert all(len(r["filename"]) == 12 and "good" not in r["filename"] for r in rows)
    assert all(r["transcription"] for r in rows)
    for task in ("ssc", "tsc"):
        b = load_benchmark(tmp_path, task)
        assert len(b.pairs) == 4 and all(p.good.endswith("_correct") for p in b.pairs)
    # text versions: one line per item, good != bad, shared ids with the audio
    for task in ("swuggy", "sblimp", "ssc", "tsc"):
        t = load_benchmark(tmp_path, task, text=True)
        audio_ids = {p.pair_id for p in load_benchmark(tmp_path, task).pairs}
        assert {p.pair_id for p in t.pairs} == audio_ids
        assert all(t.texts[p.good] != t.texts[p.bad] for p in t.pairs)
    ssc = [json.loads(x) for x in (tmp_path / "sStoryCloze" / "text.jsonl").read_text().splitlines()]
    assert all(r["sentence_good"].startswith(r["context"]) and r["sentence_good"].endswith(r["good_ending"])
               for r in ssc)


def test_voices_default_matched_and_explicit():
    assert resolve_voices(BenchConfig()) == TEST_VOICES
    matched = resolve_voices(BenchConfig(matched=True))
    assert set(matched) <= set(TRAIN_VOICES) and len(matched) == len(TEST_VOICES)
    assert resolve_voices(BenchConfig(voices=["gb-m1"])) == ["gb-m1"]
    assert resolve_voices(BenchConfig(voices=["test-speaker"])) == SPEAKER_TEST_VOICES
    with pytest.raises(UserError, match="unknown voice"):
        resolve_voices(BenchConfig(voices=["nobody"]))
    with pytest.raises(UserError, match="unknown task"):
        BenchConfig(tasks=["sbleemp"])
    assert BenchConfig(tasks=["sstorycloze", "ssc", "lexical"]).tasks == ["ssc", "swuggy"]


def test_same_seed_same_files_and_fresh_tasks_are_skipped(tmp_path, monkeypatch):
    tts = fake_tts()
    monkeypatch.setattr("slmscale.audio.tts.synthesize_many", tts)
    cfg = BenchConfig(n=2, seed=1, tasks=["sblimp", "tsc"], voices=["us-f1"])
    build_bench(cfg, tmp_path / "a")
    build_bench(cfg, tmp_path / "b")
    for rel in ("syntactic/dev/gold.csv", "syntactic/text.jsonl", "tStoryCloze/index.csv", "tStoryCloze/text.jsonl"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    n_calls = len(tts.calls)
    build_bench(cfg, tmp_path / "a")
    assert len(tts.calls) == n_calls  # up to date: nothing re-spoken
    meta = build_bench(BenchConfig(n=2, seed=2, tasks=["sblimp"], voices=["us-f1"]), tmp_path / "a")
    assert len(tts.calls) == n_calls + 1
    assert set(meta["tasks"]) == {"sblimp", "tsc"}  # the root still lists the earlier task


def test_failed_synthesis_drops_the_pair_voice_and_says_so(tmp_path, monkeypatch):
    items = _items("swuggy", 2, 0, ["us-f1", "gb-m1"])
    doomed = build._opaque(0, "swuggy", items[0].id, "us-f1", 0)
    monkeypatch.setattr("slmscale.audio.tts.synthesize_many", fake_tts(fail={doomed, "us-f1/ssc-00001_correct"}))
    meta = build_bench(BenchConfig(n=2, tasks=["swuggy", "ssc"], voices=["us-f1", "gb-m1"]), tmp_path)
    assert meta["tasks"]["swuggy"]["dropped_pairs"] == [f"{items[0].id}/us-f1"]
    assert meta["tasks"]["ssc"]["dropped_pairs"] == ["ssc-00001/us-f1"]
    sw = load_benchmark(tmp_path, "swuggy")  # the reader finds wavs and gold in agreement
    assert len(sw.pairs) == 3
    assert len(load_benchmark(tmp_path, "ssc").pairs) == 3


def test_no_benchmark_sentence_or_story_in_a_training_corpus():
    from slmscale.text.stories import generate_stories

    seed = 0
    corpus = generate_stories(1500, seed)
    texts = {s.text for s in corpus}
    sentences = {x.strip() for s in corpus for x in s.sentences}
    blimp = _items("sblimp", 15, seed, None)  # which items does not matter here: none is leaked
    assert not [it.good for it in blimp if it.good in sentences]
    assert not [it.bad for it in blimp if it.bad in sentences]
    for task in ("ssc", "tsc"):
        for it in _items(task, 40, seed, None):
            assert f"{it.context} {it.good_ending}" not in texts
            assert not any(it.context in t for t in texts)


@pytest.mark.slow
def test_real_speech_small(tmp_path):
    """espeak-ng end to end: one task, one voice, two pairs."""
    build_bench(BenchConfig(n=2, tasks=["swuggy"], voices=["carib-f5"]), tmp_path, workers=1)
    b = load_benchmark(tmp_path, "swuggy")
    assert len(b.pairs) == 2
    for path in b.audio.values():
        wav, sr = sf.read(path)
        assert sr == 16000 and wav.ndim == 1 and 0.1 < len(wav) / sr < 3 and np.abs(wav).max() > 0.01


def test_storycloze_gets_crossmodal_audio_and_the_layout_is_versioned(tmp_path, monkeypatch):
    from slmscale.artifacts import read_json, write_json
    from slmscale.eval.crossmodal import read_crossmodal

    tts = fake_tts(fail={"crossmodal/us-f1/ssc-00001_context"})
    monkeypatch.setattr("slmscale.audio.tts.synthesize_many", tts)
    meta = build_bench(BenchConfig(n=2, tasks=["sstorycloze_t2s"], voices=["us-f1", "gb-m1"]), tmp_path)
    assert set(meta["tasks"]) == {"ssc"}  # a cross-modal task name builds its StoryCloze folder
    folder = tmp_path / "sStoryCloze"
    with open(folder / "crossmodal" / "index.csv") as fh:
        rows = list(csv.DictReader(fh))
    # the row whose context failed is dropped alone (its endings deleted), the full-story pair stays
    assert [(r["id"], r["voice"]) for r in rows] == [("ssc-00000", "us-f1"), ("ssc-00000", "gb-m1"),
                                                     ("ssc-00001", "gb-m1")]
    assert rows[0]["context"] == "us-f1/ssc-00000_context.wav"
    assert rows[0]["correct"] == "us-f1/ssc-00000_ending_correct.wav"
    assert not list((folder / "crossmodal" / "us-f1").glob("ssc-00001_*"))
    part = read_json(folder / "meta.json")
    assert part["dropped_crossmodal"] == ["ssc-00001/us-f1"] and part["dropped_pairs"] == []
    assert part["config"]["layout"] == build.LAYOUT["ssc"]
    assert len(load_benchmark(tmp_path, "ssc").pairs) == 4
    assert len(read_crossmodal(folder / "crossmodal", "sstorycloze_s2t").pairs) == 3
    # what each utterance says: the context alone, each ending alone
    spoken = {it.id: it.text for it in tts.items}
    texts = {r["id"]: r for r in map(json.loads, (folder / "text.jsonl").read_text().splitlines())}
    assert spoken["crossmodal/gb-m1/ssc-00000_context"] == texts["ssc-00000"]["context"]
    assert spoken["crossmodal/gb-m1/ssc-00000_ending_incorrect"] == texts["ssc-00000"]["bad_ending"]
    # a folder built by the previous layout (no crossmodal/) is rebuilt, not trusted
    n_calls = len(tts.calls)
    build_bench(BenchConfig(n=2, tasks=["ssc"], voices=["us-f1", "gb-m1"]), tmp_path)
    assert len(tts.calls) == n_calls
    old = read_json(folder / "meta.json")
    old_cfg = {k: v for k, v in old["config"].items() if k != "layout"}
    write_json(folder / "meta.json", {**old, "config": old_cfg,
                                      "fingerprint": build.fingerprint("synthetic-bench", old_cfg)})
    build_bench(BenchConfig(n=2, tasks=["ssc"], voices=["us-f1", "gb-m1"]), tmp_path)
    assert len(tts.calls) == n_calls + 1


@pytest.mark.slow
def test_real_speech_crossmodal_parts(tmp_path):
    """espeak-ng: a story's context and ending spoken apart last about as long as the whole story."""
    build_bench(BenchConfig(n=1, tasks=["ssc"], voices=["us-f1"]), tmp_path, workers=1)
    folder = tmp_path / "sStoryCloze"

    def seconds(rel):
        info = sf.info(folder / rel)
        assert info.samplerate == 16000
        return info.frames / info.samplerate

    whole = seconds("us-f1/ssc-00000_correct.wav")
    parts = seconds("crossmodal/us-f1/ssc-00000_context.wav") + \
        seconds("crossmodal/us-f1/ssc-00000_ending_correct.wav")
    assert 0.7 * whole < parts < 1.3 * whole
    assert seconds("crossmodal/us-f1/ssc-00000_ending_incorrect.wav") < 0.6 * whole


@pytest.mark.slow
def test_real_speech_audit_holds_on_the_spoken_audio(tmp_path):
    """espeak-ng end to end: the audit measures length_seconds on the written wavs, and the builders
    (which timed the candidates apart from the build) keep it within bounds with the rest."""
    from slmscale.eval.audit import audit_bench

    build_bench(BenchConfig(n=24, seed=0, tasks=["swuggy", "ssc", "tsc"], voices=["carib-f5", "gbclan-m4"]),
                tmp_path, workers=1)
    rep = audit_bench(tmp_path)
    for task in ("swuggy", "ssc", "tsc"):
        t = rep["tasks"][task]
        assert "length_seconds" in t["baselines"] and t["within_bounds"], (task, t["baselines"], t["by_group"])
