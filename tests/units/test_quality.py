"""`units quality` on a constructed corpus: every measure of a tokenizer over manifests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.babble import write_two_sound_corpus

from slmscale.units.quality import format_table, measure_units


def test_units_quality_on_a_constructed_corpus(tmp_path, cli):
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    manifest = write_two_sound_corpus(tmp_path / "c")
    enc = EncoderConfig(name="logmel", context=0)
    fit_tokenizer(make_fit_config(manifest, enc, k=2, max_frames=5000), tmp_path / "tok", workers=1)
    r = measure_units(tmp_path / "tok", [manifest], triplets=200)
    # Two sounds, two units: every frame but those at the switches is named by its unit.
    assert r["phone_purity"] > 0.97 and r["cluster_purity"] > 0.97 and r["pnmi"] > 0.8
    # Identical audio for both voices: the units carry nothing about the voice.
    assert r["nmi_unit_voice"] == pytest.approx(0.0, abs=1e-9)
    # Six half-second sounds per 3 s utterance: 2 deduplicated units per second (+ switch blips).
    assert 2.0 <= r["units_per_second"] < 2.2
    assert r["utterances"] == 32 and r["phones"] == 3  # aa, ss and silence
    for key in ("abx_within_train", "abx_across_train", "abx_within_heldout", "abx_across_heldout"):
        assert r[key] == 1.0 and r[f"{key}_triplets"] == 200
    assert "abx_within_other" not in r  # no speaker outside the built-in voices
    for group in ("train", "heldout"):
        # Identical audio for every voice: a word is spelled the same way by all of them (its
        # interior frames hold one unit), and unlike the other word.
        assert r[f"word_edits_per_s_across_{group}"] == 0.0 and r[f"word_edits_per_s_within_{group}"] == 0.0
        # "tone" and "hiss" are one unit each: one substitution per half-second word, less its
        # two edge frames (0.46 s).
        assert r[f"word_edits_per_s_other_{group}"] == pytest.approx(1 / 0.46)
        assert r[f"word_edits_per_s_{group}_pairs"] == 200
    assert r["word_edits_per_s_to_train_heldout"] == 0.0 and r["word_edits_per_s_to_train_heldout_pairs"] > 0
    assert "word_edits_per_s_to_train_train" not in r
    code, out, err = cli("units", "quality", "--tokenizer", str(tmp_path / "tok"), "--manifest", str(manifest),
                         "--triplets", "50", "--out", str(tmp_path / "q.json"))
    assert code == 0, err
    assert "| PNMI |" in out and "ABX across voices, held-out voices" in out
    assert "| word edits per second, same word, other voice, held-out voices |" in out
    saved = json.loads((tmp_path / "q.json").read_text())
    assert saved["pnmi"] == pytest.approx(r["pnmi"])
    table = format_table([r, r], ["a", "b"])
    assert table.splitlines()[0] == "| measure | a | b |"


def test_several_tokenizers_read_each_file_once_and_measure_as_alone(tmp_path, tiny_hubert, monkeypatch):
    """measure_many gives each tokenizer what measure_units gives it alone, reading each file once;
    a file too short for one encoder is skipped for that tokenizer only, with the reason."""
    import soundfile as sf

    from slmscale.audio import io
    from slmscale.data.manifest import ManifestEntry, read_manifest, write_manifest
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from slmscale.units.quality import measure_many

    manifest = write_two_sound_corpus(tmp_path / "c")
    sf.write(tmp_path / "c" / "audio" / "blip.wav", np.zeros(200, np.float32), 16000)  # 12.5 ms
    write_manifest(manifest, [*read_manifest(manifest), ManifestEntry(
        id="us-f1-blip", audio="audio/blip.wav", duration=0.0125, sample_rate=16000, voice="us-f1")])
    fit_tokenizer(make_fit_config(manifest, EncoderConfig(name="logmel", context=0), k=2, max_frames=5000),
                  tmp_path / "mel", workers=1)
    fit_tokenizer(make_fit_config(manifest, EncoderConfig(name="hubert", checkpoint=str(tiny_hubert), layer=2),
                                  k=3, max_frames=5000), tmp_path / "hub", workers=1)
    alone = [measure_units(tmp_path / t, [manifest], triplets=60, seed=3) for t in ("mel", "hub")]
    reads = []
    real = io.load_audio
    monkeypatch.setattr(io, "load_audio", lambda path, *a, **k: reads.append(str(path)) or real(path, *a, **k))
    both = measure_many([tmp_path / "mel", tmp_path / "hub"], [manifest], triplets=60, seed=3)
    assert both == alone
    assert len(reads) == 33  # each utterance read once for both tokenizers
    assert alone[0]["utterances"] == 33 and alone[1]["utterances"] == 32
    assert [s["id"] for s in alone[1]["skipped"]] == ["us-f1-blip"] and "too short" in alone[1]["skipped"][0]["reason"]
