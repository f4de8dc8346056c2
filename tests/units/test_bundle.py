import numpy as np
import pytest

from slmscale.artifacts import read_meta
from slmscale.errors import UserError
from slmscale.units.bundle import SpeechTokenizer, TokenizerConfig, import_kmeans
from slmscale.units.encoders import EncoderConfig
from support.babble import babble


def test_saved_bundle_loads_and_encodes(tokdir):
    tok = SpeechTokenizer.load(tokdir)
    assert tok.k == 32 and tok.frame_rate == 50 and tok.dedup
    assert tok.vocab_size == 34 and tok.special_tokens == {"bos": 32, "eos": 33}
    assert read_meta(tokdir)["kind"] == "speech-tokenizer"
    assert sorted(p.name for p in tokdir.iterdir()) == ["centroids.safetensors", "config.json", "meta.json"]
    wav = babble(2.0, seed=9)
    units, durations = tok.encode(wav)
    assert units.dtype == np.int64 and units.min() >= 0 and units.max() < 32
    assert (units[1:] != units[:-1]).all() and durations.sum() == 1 + len(wav) // 320
    raw, ones = tok.encode(wav, dedup=False)
    assert len(raw) == durations.sum() and (ones == 1).all()
    assert np.array_equal(np.repeat(units, durations), raw)
    batch = tok.encode_batch([wav, wav[:8000]])
    assert np.array_equal(batch[0][0], units)
    info = tok.shard_info()
    assert info["kind"] == "units" and info["path"] == str(tokdir.resolve()) and info["fingerprint"]


def test_centroid_shape_must_match_config():
    cfg = TokenizerConfig(encoder=EncoderConfig(name="mfcc"), k=4, dim=39, frame_rate=50)
    with pytest.raises(UserError, match="shape"):
        SpeechTokenizer(cfg, np.zeros((4, 13), np.float32))


def test_import_safe_formats(tmp_path):
    from safetensors.numpy import save_file

    cents = np.random.default_rng(0).normal(size=(6, 39)).astype(np.float32)
    np.save(tmp_path / "km.npy", cents)
    save_file({"centroids": cents}, str(tmp_path / "km.safetensors"))
    assert np.array_equal(import_kmeans(tmp_path / "km.npy"), cents)
    assert np.array_equal(import_kmeans(tmp_path / "km.safetensors"), cents)
    np.save(tmp_path / "bad.npy", np.zeros(5))
    with pytest.raises(UserError, match=r"\(k, dim\)"):
        import_kmeans(tmp_path / "bad.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="Python objects"):
        import_kmeans(tmp_path / "obj.npy")


def test_sklearn_pickle_needs_opt_in(tmp_path):
    import joblib
    from sklearn.cluster import MiniBatchKMeans

    x = np.random.default_rng(1).normal(size=(200, 39))
    km = MiniBatchKMeans(n_clusters=5, random_state=0, n_init=1).fit(x)
    joblib.dump(km, tmp_path / "km500.bin")
    with pytest.raises(UserError, match="--allow-pickle"):
        import_kmeans(tmp_path / "km500.bin")
    cents = import_kmeans(tmp_path / "km500.bin", allow_pickle=True)
    assert cents.dtype == np.float32 and np.allclose(cents, km.cluster_centers_)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="cannot unpickle"):
        import_kmeans(tmp_path / "junk.pkl", allow_pickle=True)


def test_encode_file_resamples_and_reports_bad_files(tokdir, tmp_path):
    import soundfile as sf
    import soxr

    from slmscale.audio.io import AudioError

    tok = SpeechTokenizer.load(tokdir)
    wav = babble(1.5, seed=11)
    sf.write(str(tmp_path / "a16.wav"), wav, 16000, subtype="FLOAT")
    sf.write(str(tmp_path / "a48.wav"), soxr.resample(wav, 16000, 48000), 48000, subtype="FLOAT")
    direct = tok.encode(wav)
    from_file = tok.encode_file(tmp_path / "a16.wav")
    assert np.array_equal(direct[0], from_file[0]) and np.array_equal(direct[1], from_file[1])
    resampled, dur = tok.encode_file(tmp_path / "a48.wav")
    assert dur.sum() == direct[1].sum()
    (tmp_path / "bad.wav").write_text("nope")
    with pytest.raises(AudioError, match="not an audio file"):
        tok.encode_file(tmp_path / "bad.wav")


def test_projection_bundle_round_trip(corpus, tmp_path):
    from safetensors.numpy import load_file

    from slmscale.units.fit import fit_tokenizer, make_fit_config

    enc = EncoderConfig(name="mfcc", frame_rate=25, deltas=False, context=2)
    cfg = make_fit_config(corpus, enc, k=8, max_frames=2000, seed=0).model_copy(update={"projection": 12})
    fit_tokenizer(cfg, tmp_path / "a", workers=1)
    fit_tokenizer(cfg, tmp_path / "b", workers=1)
    for name in ("centroids.safetensors", "config.json"):  # same frames and seed: same bytes
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    tok = SpeechTokenizer.load(tmp_path / "a")
    assert tok.config.projection == 12 and tok.config.dim == 12 and tok.config.feature_dim == 65
    tensors = load_file(str(tmp_path / "a" / "centroids.safetensors"))
    assert tensors["centroids"].shape == (8, 12) and tensors["projection_matrix"].shape == (65, 12)
    wav = babble(2.0, seed=12)
    feats = tok.encoder.features(wav)
    whitened = (feats - tensors["projection_mean"]) @ tensors["projection_matrix"]
    expected = np.argmin(((whitened[:, None] - tensors["centroids"][None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(tok.encode(wav, dedup=False)[0], expected)
    # A bundle whose config and tensors disagree is refused with a hint.
    from safetensors.numpy import save_file

    save_file({"centroids": tensors["centroids"]}, str(tmp_path / "a" / "centroids.safetensors"))
    with pytest.raises(UserError, match="projection tensors missing"):
        SpeechTokenizer.load(tmp_path / "a")


def test_bundle_written_before_new_encoder_options_keeps_its_behaviour(corpus, tmp_path):
    """A config.json without the newer keys loads with the settings it was fitted with."""
    import json
    import shutil

    from slmscale.units.fit import fit_tokenizer, make_fit_config

    legacy = EncoderConfig(name="mfcc", frame_rate=25, deltas=True, cmvn=True, context=0, drop_c0=False,
                           whiten_static=None)
    fit_tokenizer(make_fit_config(corpus, legacy, k=8, max_frames=2000), tmp_path / "new", workers=1)
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "new", old)
    cfg = json.loads((old / "config.json").read_text())
    for key in ("context", "drop_c0", "whiten_static"):
        del cfg["encoder"][key]
    del cfg["projection"], cfg["feature_dim"]
    (old / "config.json").write_text(json.dumps(cfg))
    tok = SpeechTokenizer.load(old)
    assert tok.config.encoder == legacy.model_copy(update={"frame_rate": 25})
    assert tok.config.projection is None and tok.encoder.dim == 39
    wav = babble(1.0, seed=13)
    assert np.array_equal(tok.encode(wav)[0], SpeechTokenizer.load(tmp_path / "new").encode(wav)[0])
