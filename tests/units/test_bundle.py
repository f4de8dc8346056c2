import numpy as np
import pytest

from slmscale.artifacts import read_meta
from slmscale.errors import UserError
from slmscale.units.bundle import SpeechTokenizer, TokenizerConfig, import_kmeans
from slmscale.units.encoders import EncoderConfig
from slmscale.units.synthetic import babble


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
