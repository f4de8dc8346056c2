"""Layers of one shared forward pass as encoders of their own (units.layer_views)."""

from __future__ import annotations

import numpy as np
import pytest
from support.babble import babble, make_tiny_hubert, write_babble_corpus

from slmscale.units.encoders import EncoderConfig, HubertEncoder
from slmscale.units.layer_views import SharedPass


@pytest.mark.parametrize("norm", ["group", "layer"])  # one utterance at a time; padded batches
def test_a_view_gives_exactly_what_a_one_layer_encoder_gives(tmp_path, norm):
    ckpt = make_tiny_hubert(tmp_path / "hub", feat_extract_norm=norm)
    cfg = EncoderConfig(name="hubert", checkpoint=str(ckpt), layer=1)
    shared = SharedPass(cfg, (1, 3))
    wavs = [babble(1.3, 1), babble(2.1, 2, "high"), babble(0.7, 3)]
    for layer in (1, 3):
        alone = HubertEncoder(cfg.model_copy(update={"layer": layer}))
        view = shared.view(layer)
        assert (view.dim, view.frame_rate, view.min_samples()) == (alone.dim, alone.frame_rate, alone.min_samples())
        for got, want in zip(view.features_batch(wavs), alone.features_batch(wavs), strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(view.features(wavs[1]), alone.features(wavs[1]))
    assert shared.passes == 3  # each file once, for both layers


def test_the_cache_only_saves_work(tiny_hubert):
    cfg = EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=2)
    wavs = [babble(1.0, 1), babble(1.5, 2)]
    kept, starved = SharedPass(cfg, (1, 2)), SharedPass(cfg, (1, 2), cache_bytes=1)
    for shared in (kept, starved):
        first = shared.view(1).features_batch([wavs[0], wavs[1], wavs[0]])  # the same audio twice: one pass
        second = shared.view(2).features_batch(wavs)
        np.testing.assert_array_equal(first[0], first[2])
        shared.results = first + second
    assert kept.passes == 2 and starved.passes == 4  # nothing kept: the second view passes again
    for a, b in zip(kept.results, starved.results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_measures_through_views_equal_each_tokenizer_alone_with_one_model(tiny_hubert, tmp_path, monkeypatch):
    """`units layers` measures every layer through views of one model: each tokenizer's measures,
    voice normalisation included, are what `units quality` gives it alone, no other model is
    built, and every file (voice statistics' audio included) passes the model once."""
    from slmscale.units import encoders
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from slmscale.units.quality import measure_many, measure_units
    from slmscale.units.voice_norm import VoiceNorm

    manifest = write_babble_corpus(tmp_path / "c", 18, seconds=(1.5, 2.5), seed=4, voices=("low", "mid", "high"))
    norm = VoiceNorm(seconds=4, min_seconds=2)
    toks = []
    for layer in (1, 3):
        cfg = make_fit_config(manifest, EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=layer),
                              k=3, max_frames=2000)
        fit_tokenizer(cfg.model_copy(update={"voice_norm": norm}), tmp_path / f"L{layer}", workers=1)
        toks.append(tmp_path / f"L{layer}")
    alone = [measure_units(t, [manifest], seed=2, triplets=40) for t in toks]
    assert all(r["utterances"] == 18 and not r["skipped"] for r in alone)

    shared = SharedPass(EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=1), (1, 3))
    built = []
    real_init = encoders.HubertEncoder.__init__
    monkeypatch.setattr(encoders.HubertEncoder, "__init__",
                        lambda self, *a, **k: built.append(1) or real_init(self, *a, **k))
    together = measure_many(toks, [manifest], seed=2, triplets=40, encoders=[shared.view(1), shared.view(3)])
    assert together == alone
    assert built == [] and shared.passes == 18

    # `units quality` with both tokenizers shares one model of its own: the same numbers again.
    passes = []
    real_batch = SharedPass.features_batch
    monkeypatch.setattr(SharedPass, "features_batch", lambda self, wavs: passes.append(self) or real_batch(self, wavs))
    assert measure_many(toks, [manifest], seed=2, triplets=40) == alone
    assert len(built) == 1 and len(set(passes)) == 1 and passes[0].passes == 18


def test_shared_views_group_tokenizers_by_checkpoint_weights(tiny_hubert, tmp_path):
    from slmscale.units.encoder_base import checkpoint_sha256
    from slmscale.units.layer_views import shared_views

    other = make_tiny_hubert(tmp_path / "other", layers=4)  # other weights (the same ones would share)
    h, o = (EncoderConfig(name="hubert", checkpoint=str(c), checkpoint_sha256=checkpoint_sha256(c), layer=1)
            for c in (tiny_hubert, other))
    views = shared_views([h, EncoderConfig(name="mfcc"), h.model_copy(update={"layer": 3}), o,
                          h.model_copy(update={"bf16": True})])
    assert [None if v is None else v.layer for v in views] == [1, None, 3, None, None]
    assert views[0].shared is views[2].shared and views[0].shared.wide.layers == (1, 3)
