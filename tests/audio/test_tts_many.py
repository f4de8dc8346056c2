"""Parallel synthesis to files: layout, manifest rows, skips, and identical bytes for any worker count."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from slmscale.artifacts import sha256_file
from slmscale.audio.tts import TTSItem, make_batches, synthesize, synthesize_batch, synthesize_many
from slmscale.errors import UserError

TEXTS = ["The cat sat on the mat.", "A dog ran to the park. It was happy.", "Birds sing in the morning.",
         "Lily found a red ball under the old tree.", "The sun was warm and the sky was blue."]


def _items(n=5):
    voices = ["us-f1", "gb-f2", "nyc-f3", "carib-f5", "sc-m2"]
    return [TTSItem(f"u{i}", TEXTS[i % len(TEXTS)], voices[i % len(voices)], f"audio/{voices[i % 5]}/u{i}.wav")
            for i in range(n)]


def test_files_and_entries(tmp_path):
    items = _items() + [TTSItem("blank", " ... ", "us-f1", "audio/us-f1/blank.wav")]
    entries, skipped = synthesize_many(items, tmp_path, workers=1, split="test")
    assert [e.id for e in entries] == [f"u{i}" for i in range(5)]
    assert skipped == [("blank", "empty text (nothing to speak)")]
    assert not (tmp_path / "audio/us-f1/blank.wav").exists()
    for item, e in zip(items, entries):
        data, sr = sf.read(tmp_path / e.audio, dtype="float32")
        info = sf.info(tmp_path / e.audio)
        assert (sr, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert e.audio == item.relpath and e.split == "test" and e.voice == item.voice
        assert e.duration == pytest.approx(len(data) / 16000)
    # The items form one batch, so the files hold exactly what one engine run gives.
    assert len(make_batches(items)) == 1
    for item, e, (wav, words) in zip(items, entries, synthesize_batch([(i.text, i.voice) for i in items])):
        data, _ = sf.read(tmp_path / e.audio, dtype="float32")
        assert e.words == words
        np.testing.assert_allclose(data, wav, atol=1 / 32768 + 1e-6)
        alone, alone_words = synthesize(item.text, item.voice)  # alone: same words within 5 ms
        assert [w for w, _, _ in alone_words] == [w for w, _, _ in words]
        assert np.abs(np.array([s for _, s, _ in alone_words]) - [s for _, s, _ in words]).max() < 0.005


def test_worker_count_does_not_change_bytes(tmp_path):
    items = _items(8)
    synthesize_many(items, tmp_path / "one", workers=1)
    e2, _ = synthesize_many(items, tmp_path / "two", workers=2)
    for e in e2:
        assert sha256_file(tmp_path / "one" / e.audio) == sha256_file(tmp_path / "two" / e.audio)


def test_batches_depend_only_on_items():
    items = _items(5)
    assert [len(b) for b in make_batches(items, max_chars=60)] == [2, 1, 1, 1]
    assert sum(len(b) for b in make_batches(items * 3)) == 15


def test_bad_items_are_refused_up_front(tmp_path):
    with pytest.raises(UserError, match="unknown voice"):
        synthesize_many([TTSItem("a", "hi", "nobody", "a.wav")], tmp_path)
    with pytest.raises(UserError, match="must be relative"):
        synthesize_many([TTSItem("a", "hi", "us-f1", "../a.wav")], tmp_path)
    with pytest.raises(UserError, match="duplicate item id"):
        synthesize_many([TTSItem("a", "hi", "us-f1", "a.wav"), TTSItem("a", "yo", "us-f1", "b.wav")], tmp_path)
