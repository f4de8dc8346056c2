import numpy as np
import pytest

from support.audio_zoo import make_audio_zoo
from slmscale.data.manifest import ManifestEntry, read_manifest, write_manifest
from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.units.encode import assign_splits, encode_manifest
from support.babble import write_babble_corpus


def test_shards_hold_deduplicated_units_with_durations(shards_dir, corpus):
    s = Shards(shards_dir)
    meta = s.meta
    assert meta["modality"] == "units" and meta["vocab_size"] == 34
    assert meta["special_tokens"] == {"bos": 32, "eos": 33}
    assert meta["tokenizer"]["k"] == 32 and meta["tokenizer"]["dedup"] and meta["has_durations"]
    assert len(s) == len(read_manifest(corpus)) == meta["documents"]
    for i, d in enumerate(s.docs):
        units, dur = s.doc(i), s.doc_durations(i)
        assert (units[1:] != units[:-1]).all(), "consecutive repeat survived dedup"
        assert dur.sum() == d["frames"] == 1 + round(d["seconds"] * 16000) // 320
        assert d["source"] == d["id"] and d["voice"]
    usage = meta["unit_usage"]
    assert usage["used"] / 32 >= 0.9 and usage["fraction"] == usage["used"] / 32
    assert sum(usage["histogram"]) == meta["tokens"]
    assert np.array_equal(np.bincount(np.asarray(s.tokens), minlength=32), usage["histogram"])
    hours = sum(d["seconds"] for d in s.docs) / 3600
    assert meta["audio_hours"] == pytest.approx(hours, rel=1e-4)
    assert meta["tokens_per_second"] == pytest.approx(meta["tokens"] / (hours * 3600), rel=1e-4)
    assert 0 < meta["tokens_per_frame"] < 1
    assert meta["splits"]["valid"]["documents"] == 4  # 10% of 40


def test_encode_cache_and_identical_bytes(tokdir, corpus, shards_dir, tmp_path, capsys):
    first = Shards(shards_dir).meta
    again = encode_manifest(tokdir, corpus, shards_dir, valid_fraction=0.1, seed=0, workers=1)
    assert again["created"] == first["created"]
    assert "up to date" in " ".join(capsys.readouterr().err.split())
    other = encode_manifest(tokdir, corpus, tmp_path / "copy", valid_fraction=0.1, seed=0, workers=1)
    assert other["checksums"] == first["checksums"]
    for name in ("tokens.bin", "durations.bin", "docs.jsonl"):
        assert (tmp_path / "copy" / name).read_bytes() == (shards_dir / name).read_bytes()
    # A different split seed changes which documents are held out, not the tokens.
    reseeded = encode_manifest(tokdir, corpus, tmp_path / "copy", valid_fraction=0.1, seed=5, workers=1)
    assert reseeded["checksums"]["tokens.bin"] == first["checksums"]["tokens.bin"]
    assert reseeded["checksums"]["docs.jsonl"] != first["checksums"]["docs.jsonl"]


def test_no_dedup_keeps_every_frame(tokdir, corpus, tmp_path):
    meta = encode_manifest(tokdir, corpus, tmp_path / "raw", dedup=False, workers=1)
    s = Shards(tmp_path / "raw")
    assert not meta["has_durations"] and not (tmp_path / "raw" / "durations.bin").exists()
    assert meta["tokens"] == meta["frames"] and meta["tokenizer"]["dedup"] is False
    assert any((s.doc(i)[1:] == s.doc(i)[:-1]).any() for i in range(len(s)))


def test_split_assignment():
    entries = [ManifestEntry(id=f"u{i}", audio=f"{i}.wav", duration=1, sample_rate=16000,
                             voice="a" if i % 2 else "b", split="test" if i == 0 else "train")
               for i in range(40)]
    splits = assign_splits(entries, 0.25, [], seed=0)
    assert splits["u0"] == "test"
    assert sum(v == "valid" for v in splits.values()) == round(0.25 * 39)
    assert splits == assign_splits(list(reversed(entries)), 0.25, [], seed=0)  # order-independent
    assert splits != assign_splits(entries, 0.25, [], seed=1)
    by_voice = assign_splits(entries, 0.0, ["a"], seed=0)
    for j in range(1, 40):
        assert (by_voice[f"u{j}"] == "valid") == (j % 2 == 1)  # voice "a" held out, whole
    assert "valid" in assign_splits(entries[1:6], 0.01, [], 0).values()  # at least one


def test_unknown_valid_voice_is_an_error(tokdir, corpus, tmp_path):
    with pytest.raises(UserError, match="nobody"):
        encode_manifest(tokdir, corpus, tmp_path / "x", valid_voices=["nobody"])


def test_malformed_audio_is_skipped_and_listed(tokdir, tmp_path):
    """Acceptance 5: every malformed kind plus good files; good ones encoded, bad ones listed."""
    good, bad = make_audio_zoo(tmp_path / "zoo")
    (tmp_path / "zoo" / "tiny.wav").write_bytes((tmp_path / "zoo" / "pcm16_16k.wav").read_bytes()[:44 + 20])
    entries = [ManifestEntry(id=name, audio=f"zoo/{name}", duration=1.0, sample_rate=16000)
               for name in [*good, *bad, "missing.wav"]]
    write_manifest(tmp_path / "m.jsonl", entries)
    meta = encode_manifest(tokdir, tmp_path / "m.jsonl", tmp_path / "shards", workers=1)
    reasons = {s["id"]: s["reason"] for s in meta["skipped"]}
    assert set(reasons) == {*bad, "missing.wav"}
    for name, phrase in bad.items():
        assert phrase.lower() in reasons[name].lower(), (name, reasons[name])
    assert meta["documents"] == len(good) and meta["n_skipped"] == len(bad) + 1
    s = Shards(tmp_path / "shards")
    for i, d in enumerate(s.docs):
        assert d["seconds"] == pytest.approx(good[d["id"]], abs=0.01)
        assert s.doc_durations(i).sum() == d["frames"]


def test_all_bad_is_a_user_error_and_leaves_nothing(tokdir, tmp_path):
    write_manifest(tmp_path / "m.jsonl", [ManifestEntry(id="x", audio="x.wav", duration=1, sample_rate=16000)])
    with pytest.raises(UserError, match="no usable audio"):
        encode_manifest(tokdir, tmp_path / "m.jsonl", tmp_path / "out", workers=1)
    assert not (tmp_path / "out" / "meta.json").exists() and not (tmp_path / "out" / "tokens.bin").exists()


@pytest.mark.parametrize("tok_fixture", ["tokdir", "smooth_tokdir"])
def test_long_file_is_streamed(tok_fixture, tmp_path, monkeypatch, request):
    """A long file read in pieces gives the units of the file read whole (with short-run
    smoothing too: it runs on the whole utterance's frame units, never block by block)."""
    import slmscale.units.manifest_jobs as corpus_mod

    tokdir = request.getfixturevalue(tok_fixture)

    manifest = write_babble_corpus(tmp_path / "c", 1, seconds=(6.0, 6.0), seed=1)
    whole = encode_manifest(tokdir, manifest, tmp_path / "whole", valid_fraction=0, workers=1)
    monkeypatch.setattr(corpus_mod, "STREAM_SECONDS", 2.0)
    monkeypatch.setattr(corpus_mod, "PIECE_SECONDS", 0.7)
    streamed = encode_manifest(tokdir, manifest, tmp_path / "streamed", valid_fraction=0, workers=1)
    assert streamed["checksums"]["tokens.bin"] == whole["checksums"]["tokens.bin"]
    assert streamed["checksums"]["durations.bin"] == whole["checksums"]["durations.bin"]
    # Features in blocks of 64 frames, every pass decoding the file again: still the same units.
    from slmscale.units import spectral

    monkeypatch.setattr(spectral, "FRAME_BLOCK", 64)
    monkeypatch.setattr(spectral, "KEEP_FRAMES", 0)
    seen = []
    monkeypatch.setattr(corpus_mod.PieceSource, "__call__",
                        lambda self, call=corpus_mod.PieceSource.__call__: seen.append(1) or call(self))
    blocks = encode_manifest(tokdir, manifest, tmp_path / "blocks", valid_fraction=0, workers=1)
    assert len(seen) == 3  # whitening statistics, CMVN statistics, units
    assert blocks["checksums"]["tokens.bin"] == whole["checksums"]["tokens.bin"]
    assert blocks["frames"] == whole["frames"] and blocks["audio_hours"] == whole["audio_hours"]


@pytest.mark.slow
def test_two_workers_give_the_same_bytes(tokdir, corpus, shards_dir, tmp_path):
    meta = encode_manifest(tokdir, corpus, tmp_path / "par", valid_fraction=0.1, seed=0, workers=2)
    assert meta["checksums"] == Shards(shards_dir).meta["checksums"]


@pytest.mark.slow
def test_units_on_espeak_speech(tmp_path):
    """Realistic input: real synthesised speech in 4 voices; >= 90% of units used, sane token rate."""
    import soundfile as sf

    from slmscale.audio.tts import synthesize
    from slmscale.audio.voices import TRAIN_VOICES
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    sentences = ["the little cat found a red ball in the garden", "she was happy because her friend came to play",
                 "a big dog ran after the birds near the river", "they ate warm bread and drank cold milk",
                 "the boy lost his blue hat on a windy day", "grandma told a story about a brave mouse"]
    entries = []
    for i, text in enumerate(sentences * 2):
        voice = TRAIN_VOICES[i % 4]
        wav, _ = synthesize(text, voice)
        sf.write(str(tmp_path / f"{i}.wav"), wav, 16000)
        entries.append(ManifestEntry(id=f"s{i}", audio=f"{i}.wav", duration=len(wav) / 16000,
                                     sample_rate=16000, voice=voice, text=text))
    write_manifest(tmp_path / "m.jsonl", entries)
    fit_tokenizer(make_fit_config(tmp_path / "m.jsonl", EncoderConfig(name="mfcc", frame_rate=50), k=50),
                  tmp_path / "tok", workers=1)
    meta = encode_manifest(tmp_path / "tok", tmp_path / "m.jsonl", tmp_path / "sh", workers=1)
    assert meta["unit_usage"]["fraction"] >= 0.9
    assert 10 < meta["tokens_per_second"] < 50 and meta["n_skipped"] == 0
