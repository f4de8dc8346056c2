"""Corpus builder: stories -> voices -> wavs + manifest + meta; seeded, cached, sized by hours."""

from __future__ import annotations

import json

import pytest

from slmscale.artifacts import sha256_file
from slmscale.audio.corpus import CorpusConfig, build_corpus
from slmscale.audio.voices import TRAIN_VOICES
from slmscale.data.manifest import read_manifest
from slmscale.errors import UserError


def _cfg(**kw):
    return CorpusConfig.model_validate(kw)


def test_story_corpus_layout_and_rules(tmp_path):
    meta = build_corpus(_cfg(stories=4, seed=3), tmp_path / "c", workers=1)
    entries = read_manifest(tmp_path / "c" / "manifest.jsonl")
    assert len(entries) == 4 == meta["utterances"]
    for e in entries:
        assert e.audio == f"audio/{e.voice}/{e.id}.wav" and (tmp_path / "c" / e.audio).is_file()
        assert e.voice in TRAIN_VOICES and e.sample_rate == 16000 and e.text and e.words
        assert " ".join(w for w, _, _ in e.words).split() == [t.strip(',.!?"') for t in e.text.split()
                                                            if t.strip(',.!?"')]
        assert e.words[-1][2] <= e.duration
    # At least one story is held out for validation, even in a tiny corpus.
    assert meta["splits"].get("valid", 0) >= 1 and sum(meta["splits"].values()) == 4
    assert meta["kind"] == "speech-corpus" and meta["skipped"] == []
    assert meta["hours"] == pytest.approx(sum(e.duration for e in entries) / 3600, rel=1e-4)


def test_same_seed_same_bytes_and_cache(tmp_path, capsys):
    cfg = _cfg(stories=3, seed=5, voices=["us-f1", "gb-f2"])
    build_corpus(cfg, tmp_path / "a", workers=1)
    build_corpus(cfg, tmp_path / "b", workers=2)
    for name in ("manifest.jsonl",):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for e in read_manifest(tmp_path / "a" / "manifest.jsonl"):
        assert e.voice in ("us-f1", "gb-f2")
        assert sha256_file(tmp_path / "a" / e.audio) == sha256_file(tmp_path / "b" / e.audio)
    stamp = (tmp_path / "a" / "manifest.jsonl").stat().st_mtime_ns
    build_corpus(cfg, tmp_path / "a", workers=1)
    assert "up to date" in capsys.readouterr().err
    assert (tmp_path / "a" / "manifest.jsonl").stat().st_mtime_ns == stamp
    # Another seed: other stories, and the stale corpus is replaced, not mixed in.
    build_corpus(_cfg(stories=2, seed=6, voices=["us-f1"]), tmp_path / "a", workers=1)
    assert len(list((tmp_path / "a" / "audio").rglob("*.wav"))) == 2


def test_hours_target_is_reached_without_surplus(tmp_path):
    target = 0.02  # 72 s
    meta = build_corpus(_cfg(hours=target, seed=0, voices=["nyc-f3"]), tmp_path / "h", workers=1)
    entries = read_manifest(tmp_path / "h" / "manifest.jsonl")
    total = sum(e.duration for e in entries)
    assert total >= target * 3600 and total - entries[-1].duration < target * 3600
    assert len(list((tmp_path / "h" / "audio").rglob("*.wav"))) == len(entries) == meta["utterances"]


def test_text_file_input(tmp_path):
    src = tmp_path / "stories.txt"
    src.write_text("The cat sat.\nIt was warm.\n\nA dog ran home.\n\n")
    meta = build_corpus(_cfg(text=str(src), seed=0), tmp_path / "t", workers=1)
    entries = read_manifest(tmp_path / "t" / "manifest.jsonl")
    assert [e.text for e in entries] == ["The cat sat. It was warm.", "A dog ran home."]
    assert [e.id for e in entries] == ["t0000000", "t0000001"]
    assert meta["inputs"]["text"] == sha256_file(src)
    src.write_text("Something new.\n")  # a changed input rebuilds
    build_corpus(_cfg(text=str(src), seed=0), tmp_path / "t", workers=1)
    assert [e.text for e in read_manifest(tmp_path / "t" / "manifest.jsonl")] == ["Something new."]


def test_interrupted_build_is_redone_in_place(tmp_path):
    build_corpus(_cfg(stories=2, seed=1), tmp_path / "c", workers=1)
    (tmp_path / "c" / "meta.json").unlink()  # as if killed before the end
    (tmp_path / "c" / "audio" / "junk.wav").write_bytes(b"partial")
    build_corpus(_cfg(stories=2, seed=1), tmp_path / "c", workers=1)
    assert not (tmp_path / "c" / "audio" / "junk.wav").exists()
    assert (tmp_path / "c" / "meta.json").is_file()


def test_refuses_foreign_folders_and_bad_configs(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "precious.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a slmscale speech corpus"):
        build_corpus(_cfg(stories=1), tmp_path / "x", workers=1)
    assert (tmp_path / "x" / "precious.txt").read_text() == "keep me"
    with pytest.raises(Exception, match="not both"):
        _cfg(stories=1, hours=1)
    with pytest.raises(Exception, match="--hours H or --stories N"):
        _cfg()
    with pytest.raises(UserError, match="unknown voice"):
        _cfg(stories=1, voices=["nobody"])
    assert _cfg(stories=1, voices=["test-speaker", "us-f1"]).voices == ["us-m6", "gb-f5", "rp-m4", "us-f1"]
    json.dumps(_cfg(stories=1).model_dump())  # config is plain JSON for meta.json


def test_manifest_carries_phone_spans(tmp_path):
    build_corpus(_cfg(stories=2, seed=3), tmp_path / "c", workers=1)
    for e in read_manifest(tmp_path / "c" / "manifest.jsonl"):
        assert len(e.phones) > 2 * len(e.words)  # several phones per word
        assert all(0 <= s < end <= e.duration + 1e-6 for _, s, end in e.phones)
        first_word = e.words[0]
        assert e.phones[0][1] < first_word[2]  # the first phone sits in the first word


def test_no_story_corpus_same_sentences_voices_and_splits(tmp_path):
    from collections import Counter

    cfg = dict(stories=5, seed=4, voices=["us-f1", "gb-f2", "nyc-f3"])
    story = build_corpus(_cfg(**cfg), tmp_path / "s", workers=1)
    shuffled = build_corpus(_cfg(**cfg, no_story=True), tmp_path / "n", workers=1)
    a = read_manifest(tmp_path / "s" / "manifest.jsonl")
    b = read_manifest(tmp_path / "n" / "manifest.jsonl")
    assert [(e.id, e.voice, e.split) for e in a] == [(e.id, e.voice, e.split) for e in b]
    assert [e.text for e in a] != [e.text for e in b]
    # Same words overall (the same sentences, regrouped), each utterance spoken with timings.
    assert Counter(w for e in a for w, _, _ in e.words) == Counter(w for e in b for w, _, _ in e.words)
    assert all(e.words and e.words[-1][2] <= e.duration for e in b)
    assert shuffled["config"]["no_story"] is True and "shuffled" in shuffled["story_structure"]
    # A story corpus records no no_story key, so corpora made before the option keep their cache.
    assert "no_story" not in story["config"] and "story_structure" not in story
    assert shuffled["fingerprint"] != story["fingerprint"]
    assert build_corpus(_cfg(**cfg, no_story=True), tmp_path / "n", workers=1) == shuffled  # cached


def test_parallel_corpus_speaks_each_story_in_several_voices(tmp_path):
    """--voices-per-story N: N distinct voices per story, one group and one split per story, the
    same texts as the one-voice corpus; --hours keeps or drops a story with all its readings."""
    voices = ["us-f1", "gb-f2", "nyc-f3"]
    one = build_corpus(_cfg(stories=4, seed=2, voices=voices), tmp_path / "one", workers=1)
    par = build_corpus(_cfg(stories=4, seed=2, voices=voices, voices_per_story=2), tmp_path / "par", workers=1)
    single = read_manifest(tmp_path / "one" / "manifest.jsonl")
    entries = read_manifest(tmp_path / "par" / "manifest.jsonl")
    assert len(entries) == 8 == par["utterances"]
    by_story: dict[str, list] = {}
    for e in entries:
        by_story.setdefault(e.group, []).append(e)
        assert e.id == f"{e.group}-{e.voice}" and e.audio == f"audio/{e.voice}/{e.group}.wav"
    assert sorted(by_story) == sorted(e.id for e in single)
    for s in single:
        readings = by_story[s.id]
        assert len({e.voice for e in readings}) == 2 and {e.text for e in readings} == {s.text}
        assert {e.split for e in readings} == {s.split}  # the split is the story's
        assert readings[0].words != readings[1].words  # two voices, two timings
    assert par["config"]["voices_per_story"] == 2 and "voices_per_story" not in one["config"]
    assert par["splits"]["valid"] % 2 == 0
    # No `group` key in a one-voice manifest: corpora made before the option keep their bytes.
    assert '"group"' not in (tmp_path / "one" / "manifest.jsonl").read_text()
    meta = build_corpus(_cfg(hours=0.02, seed=0, voices=voices, voices_per_story=3), tmp_path / "h", workers=1)
    stories: dict[str, int] = {}
    for e in read_manifest(tmp_path / "h" / "manifest.jsonl"):
        stories[e.group] = stories.get(e.group, 0) + 1
    assert set(stories.values()) == {3} and meta["hours"] >= 0.02
    assert len(list((tmp_path / "h" / "audio").rglob("*.wav"))) == meta["utterances"]
    with pytest.raises(Exception, match="--voices-per-story 3: only 2 voices"):
        _cfg(stories=1, voices=["us-f1", "gb-f2"], voices_per_story=3)
    with pytest.raises(Exception, match="voices_per_story"):
        _cfg(stories=1, voices_per_story=0)
