import json

import numpy as np
import pytest

from slmscale.artifacts import read_meta
from slmscale.data.manifest import ManifestEntry, read_manifest, write_manifest
from slmscale.errors import UserError
from slmscale.units.bundle import SpeechTokenizer
from slmscale.units.encoders import EncoderConfig
from slmscale.units.fit import fit_tokenizer, make_fit_config


def _cfg(manifest, **kw):
    return make_fit_config(manifest, EncoderConfig(name="mfcc", frame_rate=25), k=kw.pop("k", 16), **kw)


def test_fit_is_cached_and_seeded(corpus, tmp_path, capsys):
    meta = fit_tokenizer(_cfg(corpus, max_frames=1500, seed=1), tmp_path / "a", workers=1)
    assert meta["frames_sampled"] <= 1500 and meta["frames_sampled"] > 1000
    assert meta["units_used_on_sample"] == 16 and meta["n_skipped"] == 0
    again = fit_tokenizer(_cfg(corpus, max_frames=1500, seed=1), tmp_path / "a", workers=1)
    assert again["created"] == meta["created"] and "up to date" in " ".join(capsys.readouterr().err.split())
    fit_tokenizer(_cfg(corpus, max_frames=1500, seed=1), tmp_path / "b", workers=1)
    a = (tmp_path / "a" / "centroids.safetensors").read_bytes()
    assert a == (tmp_path / "b" / "centroids.safetensors").read_bytes()
    assert (tmp_path / "a" / "config.json").read_bytes() == (tmp_path / "b" / "config.json").read_bytes()
    fit_tokenizer(_cfg(corpus, max_frames=1500, seed=2), tmp_path / "c", workers=1)
    assert a != (tmp_path / "c" / "centroids.safetensors").read_bytes()
    # A changed config (k) rebuilds in place.
    meta_k = fit_tokenizer(_cfg(corpus, max_frames=1500, seed=1, k=12), tmp_path / "a", workers=1)
    assert meta_k["k"] == 12 and SpeechTokenizer.load(tmp_path / "a").k == 12


def test_fit_skips_bad_audio_and_lists_it(corpus, tmp_path):
    entries = read_manifest(corpus)[:6]
    for e in entries:
        e.audio = str(corpus.parent / e.audio)
    (tmp_path / "broken.wav").write_text("not audio")
    entries.append(ManifestEntry(id="broken", audio="broken.wav", duration=1.0, sample_rate=16000))
    entries.append(ManifestEntry(id="gone", audio="gone.wav", duration=1.0, sample_rate=16000))
    write_manifest(tmp_path / "m.jsonl", entries)
    meta = fit_tokenizer(_cfg(tmp_path / "m.jsonl", k=8), tmp_path / "tok", workers=1)
    reasons = {s["id"]: s["reason"] for s in meta["skipped"]}
    assert meta["n_skipped"] == 2 and meta["utterances"] == 6
    assert "not an audio file" in reasons["broken"] and "not found" in reasons["gone"]


def test_import_checks_dimension_and_k(corpus, tmp_path):
    np.save(tmp_path / "km.npy", np.ones((16, 13), np.float32))
    with pytest.raises(UserError, match="dimension 13"):
        fit_tokenizer(_cfg(corpus, import_path=tmp_path / "km.npy"), tmp_path / "tok")
    from slmscale.units.encoders import build_encoder

    dim = build_encoder(EncoderConfig(name="mfcc", frame_rate=25)).dim  # 195 with the default context
    cents = np.random.default_rng(0).normal(size=(16, dim)).astype(np.float32)
    np.save(tmp_path / "km.npy", cents)
    meta = fit_tokenizer(_cfg(corpus, import_path=tmp_path / "km.npy"), tmp_path / "tok")
    assert meta["source"] == "import"
    assert np.array_equal(SpeechTokenizer.load(tmp_path / "tok").centroids, cents)
    with pytest.raises(UserError, match="--k is 20"):
        fit_tokenizer(_cfg(corpus, import_path=tmp_path / "km.npy", k=20), tmp_path / "tok2")


def test_hubert_tokenizer(corpus, tiny_hubert, tmp_path):
    enc = EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=2)
    meta = fit_tokenizer(make_fit_config(corpus, enc, k=8), tmp_path / "tok")
    assert meta["frame_rate"] == 50 and meta["dim"] == 32
    cfg = json.loads((tmp_path / "tok" / "config.json").read_text())
    assert cfg["encoder"]["checkpoint_sha256"] and cfg["encoder"]["layer"] == 2
    assert read_meta(tmp_path / "tok")["config"]["encoder"]["checkpoint"] == str(tiny_hubert.resolve())
