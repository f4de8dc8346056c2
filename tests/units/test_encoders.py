import json
from pathlib import Path

import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.units.encoders import EncoderConfig, HubertEncoder, SpectralEncoder, build_encoder
import support
from support.babble import babble


@pytest.mark.parametrize("rate", [25, 50])
def test_mfcc_frames_match_librosa(rate):
    # Reference: librosa.feature.mfcc of this babble, stored (tests/support/make_librosa_reference.py).
    wav = babble(1.3, seed=1)
    enc = SpectralEncoder(EncoderConfig(name="mfcc", frame_rate=rate, cmvn=False, context=0, whiten_static=None))
    feats = enc.features(wav)
    assert feats.shape == (1 + len(wav) // (16000 // rate), 39) and feats.dtype == np.float32
    ref = np.load(Path(support.__file__).parent / "librosa_reference.npz")[f"mfcc_{rate}"]
    assert ref.shape == (len(feats), 13)
    np.testing.assert_allclose(feats[:, :13], ref, atol=1e-3 * np.abs(ref).max())
    # Deltas of a constant signal vanish; of a ramp they equal its slope.
    ramp = np.tile(np.arange(20, dtype=np.float32)[:, None], (1, 3))
    from slmscale.units.encoders import _deltas
    assert np.allclose(_deltas(ramp)[2:-2], 1.0)


def test_cmvn_and_logmel():
    wav = babble(2.0, seed=2)
    mfcc = SpectralEncoder(EncoderConfig(name="mfcc", context=0)).features(wav)
    assert np.allclose(mfcc.mean(axis=0), 0, atol=1e-4) and np.allclose(mfcc.std(axis=0), 1, atol=1e-2)
    logmel = build_encoder(EncoderConfig(name="logmel", frame_rate=25, n_mels=64, cmvn=False)).features(wav)
    assert logmel.shape == (1 + len(wav) // 640, 64)
    # A louder copy raises every log-mel bin by 20*log10(2) dB.
    louder = build_encoder(EncoderConfig(name="logmel", frame_rate=25, n_mels=64, cmvn=False)).features(2 * wav)
    live = logmel > -99  # bins at the -100 dB floor (no energy) stay there
    assert live.mean() > 0.9
    assert np.allclose((louder - logmel)[live], 20 * np.log10(2), atol=0.05)


def test_bad_frame_rate_is_rejected():
    with pytest.raises(ValueError, match="25 or 50"):
        EncoderConfig(name="mfcc", frame_rate=30)


@pytest.mark.parametrize("block,keep", [(4096, 1 << 16), (37, 0)])
def test_streamed_features_match_whole_file(monkeypatch, block, keep):
    from slmscale.units import spectral

    wav = babble(5.0, seed=4)[:-77]
    reference = {name: SpectralEncoder(EncoderConfig(name=name, frame_rate=rate)).features(wav)
                 for name, rate in (("mfcc", 50), ("logmel", 25))}
    # Small blocks, and every pass re-reading the audio instead of replaying frames from memory:
    monkeypatch.setattr(spectral, "FRAME_BLOCK", block)
    monkeypatch.setattr(spectral, "KEEP_FRAMES", keep)
    for name, rate in (("mfcc", 50), ("logmel", 25)):
        enc = SpectralEncoder(EncoderConfig(name=name, frame_rate=rate))
        whole = enc.features(wav)
        np.testing.assert_allclose(whole, reference[name], atol=1e-4)  # block size: rounding only
        for size in (16000, 12345, 100):  # pieces need not be whole hops, nor longer than a window
            pieces = [wav[i:i + size] for i in range(0, len(wav), size)]
            streamed, n = enc.features_stream(iter(pieces))
            assert n == len(wav) and streamed.shape == whole.shape
            np.testing.assert_array_equal(streamed, whole)  # same blocks: the same arithmetic
            opened = []

            def open_pieces():
                opened.append(1)
                return iter(pieces)

            blocks = list(enc.feature_blocks(open_pieces))
            assert max(len(b) for b in blocks) <= block + 4 and len(opened) == (1 if keep else 1 + (name == "mfcc") + 1)
            np.testing.assert_array_equal(np.concatenate(blocks), whole)
    if block > 300:  # one block: features() takes its short path, which must equal the block path
        for name, rate in (("mfcc", 50), ("logmel", 25)):
            enc = SpectralEncoder(EncoderConfig(name=name, frame_rate=rate))
            np.testing.assert_array_equal(enc.features(wav), np.concatenate(list(enc.feature_blocks(lambda: [wav]))))


def test_hubert_layer_matches_transformers_hidden_states(tiny_hubert):
    import torch
    from transformers import HubertModel

    enc = HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=2))
    assert enc.frame_rate == 50 and enc.dim == 32 and len(enc.model.encoder.layers) == 2
    wav = babble(1.0, seed=5)
    feats = enc.features(wav)
    full = HubertModel.from_pretrained(tiny_hubert).eval()
    with torch.no_grad():
        hidden = full(torch.from_numpy(wav[None]), output_hidden_states=True).hidden_states[2][0].numpy()
    assert feats.shape == hidden.shape
    np.testing.assert_allclose(feats, hidden, atol=1e-5)


def test_hubert_min_samples_is_the_receptive_field(tiny_hubert):
    enc = HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=1))
    n = enc.min_samples()
    assert enc.n_frames(n) == 1 and enc.n_frames(n - 1) == 0
    assert enc.features(babble(n / 16000, seed=1)[:n]).shape == (1, enc.dim)


def test_hubert_layer_norm_model_batches_like_single(tmp_path):
    from support.babble import make_tiny_hubert

    path = make_tiny_hubert(tmp_path / "ln", feat_extract_norm="layer")
    (path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    enc = HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(path), layer=3))
    assert enc.batched and enc.normalize
    wavs = [babble(s, seed=i) for i, s in enumerate((0.7, 1.6, 1.1))]
    batch = enc.features_batch(wavs)
    for w, f in zip(wavs, batch):
        assert f.shape[0] == enc.n_frames(len(w))
        np.testing.assert_allclose(f, enc.features(w), atol=1e-4)


def test_hubert_bad_inputs(tiny_hubert, tmp_path):
    with pytest.raises(UserError, match="layers 1..3"):
        HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=7))
    with pytest.raises(UserError, match="no config.json"):
        HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(tmp_path), layer=1))
    with pytest.raises(ValueError, match="checkpoint directory and a layer"):
        EncoderConfig(name="hubert", checkpoint=str(tiny_hubert))


def test_hubert_bf16_is_close_to_fp32(tiny_hubert):
    wav = babble(1.0, seed=6)
    fp32 = HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=2)).features(wav)
    bf16 = HubertEncoder(EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=2, bf16=True)).features(wav)
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert np.abs(bf16 - fp32).max() < 0.1 * np.abs(fp32).max()


def test_stack_context_shape_and_values():
    from slmscale.units.encoders import stack_context

    x = np.arange(12, dtype=np.float32).reshape(4, 3)  # frame t = [3t, 3t+1, 3t+2]
    out = stack_context(x, 2)
    assert out.shape == (4, 15) and out.dtype == np.float32
    # Blocks run from frame t-2 to t+2; frames before the start / past the end repeat the edge.
    np.testing.assert_array_equal(out[0], np.concatenate([x[0], x[0], x[0], x[1], x[2]]))
    np.testing.assert_array_equal(out[2], np.concatenate([x[0], x[1], x[2], x[3], x[3]]))
    np.testing.assert_array_equal(out[:, 6:9], x)  # the centre block is the frame itself
    assert stack_context(x, 0) is x
    assert stack_context(np.zeros((0, 3), np.float32), 1).shape == (0, 9)


def test_context_and_drop_c0_in_encoder():
    wav = babble(1.5, seed=7)
    plain = SpectralEncoder(EncoderConfig(name="mfcc", deltas=False, context=0)).features(wav)
    stacked_enc = SpectralEncoder(EncoderConfig(name="mfcc", deltas=False, context=3))
    stacked = stacked_enc.features(wav)
    assert stacked_enc.dim == 13 * 7 and stacked.shape == (len(plain), 91)
    np.testing.assert_array_equal(stacked[:, 39:52], plain)  # CMVN before stacking: centre = plain
    np.testing.assert_array_equal(stacked[5, :13], plain[2])
    plain_cfg = dict(name="mfcc", deltas=False, cmvn=False, context=0, whiten_static=None)
    no_c0 = SpectralEncoder(EncoderConfig(**plain_cfg, drop_c0=True))
    raw = SpectralEncoder(EncoderConfig(**plain_cfg)).features(wav)
    assert no_c0.dim == 12
    np.testing.assert_array_equal(no_c0.features(wav), raw[:, 1:])


def test_whiten_utterance_undoes_linear_cepstral_transforms():
    from slmscale.units.encoders import whiten_utterance

    rng = np.random.default_rng(8)
    x = (rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))).astype(np.float32) + 3
    white = whiten_utterance(x, 0.0)
    np.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(white.T @ white / len(x), np.eye(5), atol=1e-3)
    # A speaker-like linear map of the cepstra (x @ A + b) changes the whitened frames by a
    # rotation only: all distances between frames are kept.
    a = np.eye(5) + 0.3 * rng.normal(size=(5, 5))
    moved = whiten_utterance((x @ a + 1.5).astype(np.float32), 0.0)
    np.testing.assert_allclose(moved @ moved.T, white @ white.T, atol=2e-2)
    # A heavy prior shrinks the covariance to its diagonal: per-dimension standardisation.
    diag = whiten_utterance(x, 1e9)
    np.testing.assert_allclose(diag, (x - x.mean(0)) / x.std(0), atol=1e-3)
    assert whiten_utterance(x[:1], 50.0).shape == (1, 5)


def test_default_mfcc_recipe_and_explicit_legacy():
    wav = babble(1.5, seed=9)
    default = EncoderConfig(name="mfcc")
    assert default.context == 2 and default.whiten_static == 50.0 and default.deltas
    enc = SpectralEncoder(default)
    feats = enc.features(wav)
    assert enc.dim == 39 * 5 and feats.shape == (1 + len(wav) // 320, 195)
    legacy = EncoderConfig(name="mfcc", context=0, whiten_static=None)
    assert SpectralEncoder(legacy).features(wav).shape == (1 + len(wav) // 320, 39)
    assert EncoderConfig(name="logmel").context == 0 and EncoderConfig(name="logmel").whiten_static is None
    with pytest.raises(ValueError, match="apply to mfcc"):
        EncoderConfig(name="logmel", whiten_static=10)
    # Round trip through JSON (what a bundle stores) keeps the values.
    assert EncoderConfig.model_validate(json.loads(legacy.model_dump_json())) == legacy
