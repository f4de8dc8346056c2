"""Unit-quality measures against hand computations, and `units quality` on a constructed corpus."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from support.babble import write_two_sound_corpus

from slmscale.units.quality import (abx, dtw_distance, edit_distance, format_table, joint_counts,
                                    measure_units, normalized_mi, phone_measures, word_edit_distances,
                                    word_edit_to_reference)


def test_purity_and_pnmi_by_hand():
    phones = np.array([0, 0, 1, 1, 1, 2])
    units = np.array([0, 0, 0, 1, 1, 1])
    counts = joint_counts(phones, units)
    assert counts.tolist() == [[2, 0], [1, 2], [0, 1]]
    got = phone_measures(counts)
    # p(y) = 1/3, 1/2, 1/6; p(z) = 1/2, 1/2.
    # phone purity = sum_z max_y p(y, z) = (2 + 2) / 6; cluster purity = sum_y max_z p(y, z) = (2 + 2 + 1) / 6
    assert got["phone_purity"] == pytest.approx(4 / 6)
    assert got["cluster_purity"] == pytest.approx(5 / 6)
    mi = (2 / 6) * math.log(2) + (1 / 6) * math.log(2 / 3) + (2 / 6) * math.log(4 / 3) + (1 / 6) * math.log(2)
    h_phone = (1 / 3) * math.log(3) + (1 / 2) * math.log(2) + (1 / 6) * math.log(6)
    assert got["pnmi"] == pytest.approx(mi / h_phone)
    assert got["pnmi"] == pytest.approx(0.370669, abs=1e-5)


def test_nmi_extremes_and_a_hand_value():
    voices = np.array([0, 0, 1, 1])
    assert normalized_mi(np.array([5, 5, 7, 7]), voices) == pytest.approx(1.0)  # units name the voice
    assert normalized_mi(np.array([5, 7, 5, 7]), voices) == pytest.approx(0.0)  # units ignore it
    # units 0,0,0,1 vs voices 0,0,1,1: I = 1/2 ln 4/3 + 1/4 ln 2/3 + 1/4 ln 2, H(voice) = ln 2
    want = (0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)) / math.log(2)
    assert normalized_mi(np.array([0, 0, 0, 1]), voices) == pytest.approx(want)


def test_distances():
    assert edit_distance(np.array([1, 2, 3]), np.array([1, 3])) == pytest.approx(1 / 3)
    assert edit_distance(np.array([]), np.array([1])) == 1.0
    assert dtw_distance(np.array([1, 1, 2, 2]), np.array([1, 2])) == 0.0  # a warp, no cost
    # [1, 2] vs [3, 3]: every aligned pair differs -> cost 1 per step of the path
    assert dtw_distance(np.array([1, 2]), np.array([3, 3])) == pytest.approx(1.0)


def test_abx_by_construction():
    w1, w2 = np.array([1, 1, 2, 2, 3]), np.array([7, 7, 8, 9, 9])
    # Voice "a" and voice "b" say both words; "b" says them with the same units: ABX must be 1.
    same = [("cat", "a", w1), ("cat", "a", w1), ("dog", "a", w2), ("cat", "b", w1), ("dog", "b", w2),
            ("dog", "b", w2), ("dog", "a", w2), ("cat", "b", w1)]
    for across in (False, True):
        score, n = abx(same, across, 200, seed=0)
        assert score == 1.0 and n == 200
    # Voice "b" uses units that match the *other* word of voice "a": across-voice ABX = 0, within = 1.
    swapped = [("cat", "a", w1), ("cat", "a", w1), ("dog", "a", w2), ("dog", "a", w2),
               ("cat", "b", w2), ("cat", "b", w2), ("dog", "b", w1), ("dog", "b", w1)]
    assert abx(swapped, True, 100, seed=0)[0] == 0.0
    assert abx(swapped, False, 100, seed=0)[0] == 1.0
    assert abx([("cat", "a", w1)], True, 10, seed=0) == (None, 0)


def test_word_edit_distances_by_hand():
    cat = np.array([1, 1, 2, 2, 3])  # 5 frames, deduplicated 1 2 3
    segments = [("cat", "a", cat), ("cat", "a", cat.copy()), ("cat", "b", np.array([1, 2, 2, 4])),
                ("dog", "a", np.array([7, 8, 8, 9]))]
    # Only the two "cat" tokens of voice a have a same-voice twin, another voice's "cat" and another
    # word by their voice. Every draw gives 0 edits (same spelling), 1 edit against 1 2 4 and 3
    # against 7 8 9; the other two tokens are 4 frames long, so the mean duration is 4.5 frames.
    got = word_edit_distances(segments, 50, seed=3, rate=50.0)
    assert got == {"within": 0.0, "across": pytest.approx(1 / (4.5 / 50)), "other": pytest.approx(3 / (4.5 / 50)),
                   "pairs": 50}
    # Without a rate: edits over the longer deduplicated string.
    assert word_edit_distances(segments, 50, seed=3) == {"within": 0.0, "across": pytest.approx(1 / 3),
                                                         "other": 1.0, "pairs": 50}
    # Without a same-voice twin there is no anchor: nothing is measured, and it says so.
    nothing = {"within": None, "across": None, "other": None, "pairs": 0}
    assert word_edit_distances(segments[1:], 50, seed=3) == nothing
    assert word_edit_distances([], 50, seed=3) == nothing
    # Against reference voices: each "cat" (1 2 3 twice, 1 2 4) to the reference's only "cat"
    # (1 2 3 3) is 0, 0 and 1 edit over 4 frames (both tokens 4 long); "dog" has no reference token.
    reference = [("cat", "r", np.array([1, 2, 3, 3])), ("bird", "r", np.array([5, 6]))]
    assert word_edit_to_reference(segments, reference, 50, seed=3, rate=1.0) == (pytest.approx((1 / 4) / 3), 3)
    assert word_edit_to_reference(segments, reference[1:], 50, seed=3) == (None, 0)


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
