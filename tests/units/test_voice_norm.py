"""Per-voice whitening: the transform itself, which audio gives a voice's statistics, and the
whole path (fit, encode, quality, sharding, workers) on a corpus where one voice is the other
voice's audio at a lower gain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from slmscale.units.bundle import SpeechTokenizer
from slmscale.units.encode import encode_manifest
from slmscale.units.fit import fit_tokenizer, make_fit_config
from slmscale.units.fit_parts import fit_part, merge_fit
from slmscale.units.quality import measure_units
from slmscale.units.voice_norm import VoiceNorm, apply, ranked_items, voice_transforms, whitening
from support.voices import RAW_LOGMEL, gain_corpus



def test_whitening_gives_zero_mean_and_identity_covariance():
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((6, 6))
    frames = rng.standard_normal((20000, 6)) @ mix + 5.0
    t = whitening(frames, shrink=0.0)
    out = apply(frames, t)
    assert np.abs(out.mean(axis=0)).max() < 1e-3
    assert np.allclose(np.cov(out, rowvar=False), np.eye(6), atol=2e-3)
    # Full shrinkage keeps only the variances: a per-dimension gain and offset is undone exactly.
    scale, shift = rng.uniform(0.2, 3.0, 6), rng.standard_normal(6) * 4
    a = apply(frames, whitening(frames, 1.0))
    b = apply(frames * scale + shift, whitening(frames * scale + shift, 1.0))
    assert np.allclose(a, b, atol=1e-3)


def test_a_constant_dimension_is_not_blown_up():
    frames = np.random.default_rng(1).standard_normal((500, 3))
    frames[:, 1] = 7.0
    out = apply(frames, whitening(frames, 0.1))
    assert np.isfinite(out).all() and np.abs(out[:, 1]).max() < 1e-3


@dataclass
class _It:
    key: str
    voice: str
    seconds: float


def test_statistics_audio_is_ranked_by_a_seeded_hash_of_the_ids():
    items = [_It(f"u{i}", "a" if i % 3 else "b", 10.0) for i in range(30)]
    norm = VoiceNorm(seconds=45.0)
    ranked = ranked_items(items, norm)
    assert sorted(ranked) == ["a", "b"] and len(ranked["a"]) == 20 and {it.voice for it in ranked["b"]} == {"b"}
    again = ranked_items(list(reversed(items)), norm)  # manifest order does not matter
    assert {v: [it.key for it in its] for v, its in again.items()} == {v: [it.key for it in its] for v, its in ranked.items()}
    assert ranked_items(items, norm.model_copy(update={"seed": 1}))["a"] != ranked["a"]
    assert list(ranked_items(items, norm, voices={"b"})) == ["b"]


def test_an_unreadable_file_is_passed_over_for_the_next(tmp_path):
    """Each voice reads its ranked files until it has its seconds: a bad file costs nothing."""
    from slmscale.units.encoders import build_encoder
    from slmscale.units.manifest_jobs import manifest_items
    from slmscale.data.manifest import read_manifest

    manifest = gain_corpus(tmp_path / "c")
    items = manifest_items(manifest, read_manifest(manifest))
    norm = VoiceNorm(seconds=6.0, min_seconds=5.0)  # two 3 s files per voice
    first = ranked_items(items, norm)["carib-f5"][0]
    Path(first.path).write_bytes(b"not audio")
    encoder = build_encoder(RAW_LOGMEL)
    transforms, problems = voice_transforms(encoder, items, norm)
    assert not problems and sorted(transforms) == ["carib-f5", "us-f1"]
    # Only when too few files remain is the voice refused, with the reason.
    for it in ranked_items(items, norm)["carib-f5"][1:7]:
        Path(it.path).write_bytes(b"not audio")
    transforms, problems = voice_transforms(encoder, items, norm)
    assert sorted(transforms) == ["us-f1"] and "has 3.0 s of usable audio" in problems["carib-f5"]


def test_whitening_from_running_moments_matches_the_covariance_of_all_frames():
    """Accumulated block by block (as a voice's files are read), the statistics equal those of
    the frames joined: mean, and the unbiased covariance shrunk towards its diagonal."""
    from slmscale.units.spectral import Moments, inverse_sqrt

    rng = np.random.default_rng(3)
    frames = rng.standard_normal((3000, 5)) @ rng.standard_normal((5, 5)) + 40.0  # far from zero
    m = Moments(5, full=True)
    for block in np.array_split(frames, [7, 800, 801, 2500]):
        m.add(block)
    mean, matrix = whitening(m, 0.25)
    cov = np.cov(frames, rowvar=False)
    by_hand = inverse_sqrt(0.75 * cov + 0.25 * np.diag(np.diag(cov)), rel_floor=1e-8, abs_floor=1e-12)
    assert np.allclose(mean, frames.mean(axis=0), rtol=0, atol=1e-4)
    assert np.allclose(matrix, by_hand, rtol=1e-5, atol=1e-6)
    assert np.allclose(whitening(frames, 0.25)[1], by_hand, rtol=1e-5, atol=1e-6)


def test_whole_voices_use_every_file(tmp_path, monkeypatch):
    """With `whole`, a voice's statistics are those of all its files' frames, whatever `seconds`
    says; without it, only of the first `seconds` of its ranked files."""
    from slmscale.data.manifest import read_manifest
    from slmscale.units.encoders import build_encoder
    from slmscale.units.manifest_jobs import features_for_items, manifest_items

    manifest = gain_corpus(tmp_path / "c")
    items = manifest_items(manifest, read_manifest(manifest))
    encoder = build_encoder(RAW_LOGMEL)
    norm = VoiceNorm(seconds=6.0, min_seconds=5.0)  # two of a voice's 3 s files
    whole, _ = voice_transforms(encoder, items, norm, {"us-f1"}, whole=True)
    capped, _ = voice_transforms(encoder, items, norm, {"us-f1"})
    mine = [it for it in items if it.voice == "us-f1"]
    assert len(mine) > 2
    every = np.concatenate([o.value for o in features_for_items(encoder, mine)])
    first = np.concatenate([o.value for o in features_for_items(encoder, ranked_items(mine, norm)["us-f1"][:2])])
    for got, frames in ((whole, every), (capped, first[:int(6.0 * encoder.frame_rate)])):
        mean, matrix = whitening(frames, norm.shrink)
        assert np.allclose(got["us-f1"][0], mean, atol=1e-4) and np.allclose(got["us-f1"][1], matrix, rtol=1e-4, atol=1e-5)
    assert not np.allclose(whole["us-f1"][1], capped["us-f1"][1], rtol=1e-3)
    # Files long enough to be streamed are summed block by block, to the same statistics.
    monkeypatch.setattr("slmscale.units.manifest_jobs.STREAM_SECONDS", 1.0)
    streamed, _ = voice_transforms(encoder, items, norm, {"us-f1"}, whole=True)
    assert np.allclose(streamed["us-f1"][0], whole["us-f1"][0], atol=1e-5)
    assert np.allclose(streamed["us-f1"][1], whole["us-f1"][1], rtol=1e-4, atol=1e-5)


def _fit(manifest: Path, out: Path, norm: VoiceNorm | None, **kw) -> dict:
    cfg = make_fit_config(manifest, RAW_LOGMEL, k=2, max_frames=5000).model_copy(update={"voice_norm": norm})
    return fit_tokenizer(cfg, out, workers=1, **kw)


@pytest.fixture(scope="module")
def gain(tmp_path_factory) -> Path:
    return gain_corpus(tmp_path_factory.mktemp("gain"))


def test_a_voice_gain_is_undone(gain, tmp_path):
    _fit(gain, tmp_path / "plain", None)
    _fit(gain, tmp_path / "vn", VoiceNorm())
    plain = measure_units(tmp_path / "plain", [gain], triplets=100)
    norm = measure_units(tmp_path / "vn", [gain], triplets=100)
    # Without it, the two units name the voice; with it, they name the sound, for both voices.
    assert plain["nmi_unit_voice"] > 0.9 and plain["pnmi"] < 0.1
    assert norm["nmi_unit_voice"] < 0.01 and norm["pnmi"] > 0.8
    config = json.loads((tmp_path / "vn" / "config.json").read_text())
    assert config["voice_norm"]["kind"] == "whiten"
    assert "voice_norm" not in json.loads((tmp_path / "plain" / "config.json").read_text())


def test_encode_matches_the_fit_and_does_not_depend_on_workers_or_shards(gain, tmp_path):
    _fit(gain, tmp_path / "tok", VoiceNorm())
    one = encode_manifest(tmp_path / "tok", gain, tmp_path / "s1", valid_fraction=0.0, workers=1, dedup=False)
    two = encode_manifest(tmp_path / "tok", gain, tmp_path / "s2", valid_fraction=0.0, workers=2, dedup=False)
    assert one["checksums"] == two["checksums"]
    # Sharded encoding: each part takes its voices' statistics from the whole manifest.
    from slmscale.units.encode_parts import encode_part, merge_parts

    for i in (2, 0, 1):
        encode_part(tmp_path / "tok", gain, tmp_path / "s3", 3, i, valid_fraction=0.0, workers=1, dedup=False)
    assert merge_parts(tmp_path / "s3", num_shards=3)["checksums"] == one["checksums"]
    tok = SpeechTokenizer.load(tmp_path / "tok")
    from slmscale.units.manifest_jobs import load_wav, manifest_items
    from slmscale.data.manifest import read_manifest

    entries = read_manifest(gain)
    tok.adapt(manifest_items(gain, entries))
    loud = tok.encode(load_wav(gain.parent / "audio" / "us-f1-u0.wav"), dedup=False, voice="us-f1")[0]
    quiet = tok.encode(load_wav(gain.parent / "audio" / "carib-f5-u0.wav"), dedup=False, voice="carib-f5")[0]
    assert (loud == quiet).mean() > 0.95  # the same sounds at -30 dB give the same units
    # A voice-normalised tokenizer refuses an utterance whose voice it has no statistics for.
    from slmscale.errors import UserError

    with pytest.raises(UserError, match="no voice statistics"):
        tok.encode(load_wav(gain.parent / "audio" / "us-f1-u0.wav"), voice="nobody")
    # Sharded fit: each part computes the statistics of its voices; the merge is the same tokenizer.
    cfg = make_fit_config(gain, RAW_LOGMEL, k=2, max_frames=5000).model_copy(update={"voice_norm": VoiceNorm()})
    for i in (1, 0):
        fit_part(cfg, tmp_path / "parts", 2, i, workers=1)
    merge_fit(cfg, tmp_path / "parts", 2)
    assert ((tmp_path / "parts" / "centroids.safetensors").read_bytes()
            == (tmp_path / "tok" / "centroids.safetensors").read_bytes())


def test_a_voice_with_too_little_audio_is_skipped_with_the_reason(tmp_path):
    manifest = gain_corpus(tmp_path / "c", quiet_voice_items=1)  # carib-f5: one 3 s utterance
    meta = _fit(manifest, tmp_path / "tok", VoiceNorm(min_seconds=5.0))
    assert meta["n_skipped"] == 1 and "carib-f5" in meta["skipped"][0]["reason"]
    assert "needs at least 5 s" in meta["skipped"][0]["reason"]
    shards = encode_manifest(tmp_path / "tok", manifest, tmp_path / "s", valid_fraction=0.0, workers=1)
    assert shards["n_skipped"] == 1 and shards["documents"] == 8
    q = measure_units(tmp_path / "tok", [manifest], triplets=20)
    assert q["utterances"] == 8 and "voice normalisation needs" in q["skipped"][0]["reason"]


def test_cli_voice_norm(gain, tmp_path, cli):
    code, _, err = cli("units", "fit", "--manifest", str(gain), "--encoder", "logmel", "--k", "2",
                       "--voice-norm", "maybe", "--out", str(tmp_path / "t"))
    assert code == 2 and "--voice-norm maybe: choose off or whiten" in err
    code, _, err = cli("units", "fit", "--manifest", str(gain), "--encoder", "logmel", "--k", "2",
                       "--voice-norm", "whiten", "--voice-seconds", "6", "--out", str(tmp_path / "t"))
    assert code == 2 and "--voice-seconds" in err and "below min_seconds" in err
    code, _, err = cli("units", "fit", "--manifest", str(gain), "--encoder", "logmel", "--k", "2",
                       "--voice-norm", "whiten", "--voice-seconds", "12", "--out", str(tmp_path / "t"))
    assert code == 0, err
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["voice_norm"]["seconds"] == 12.0
