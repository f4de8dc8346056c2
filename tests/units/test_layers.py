"""`units layers`: the ranking rule by hand, and a sweep that matches `units fit` + `units quality` run by hand."""

from __future__ import annotations

import json

import pytest
from support.babble import write_two_sound_corpus

from slmscale.errors import UserError
from slmscale.units.layers import format_sweep, layer_dir, rank_layers, summarize, sweep_layers


def test_ranking_prefers_pnmi_then_heldout_abx_and_judges_the_margin_per_seed():
    # Layer 2 is ahead of layer 3 by +0.02, +0.01, +0.015 in three seeds; layer 1 trails.
    got = rank_layers({1: {0: {"pnmi": 0.60}, 1: {"pnmi": 0.61}, 2: {"pnmi": 0.60}},
                       2: {0: {"pnmi": 0.68}, 1: {"pnmi": 0.66}, 2: {"pnmi": 0.67}},
                       3: {0: {"pnmi": 0.66}, 1: {"pnmi": 0.65}, 2: {"pnmi": 0.655}}})
    assert (got["top_layer"], got["criterion"], got["runner_up"], got["ranking"]) == (2, "pnmi", 3, [2, 3, 1])
    assert got["value"] == pytest.approx(0.67) and got["margin"] == pytest.approx(0.015)
    assert got["margin_per_seed"] == pytest.approx([0.02, 0.01, 0.015])
    # sd 0.005, t(0.975, 2) = 4.303: 0.015 +- 4.303 * 0.005 / sqrt(3) = [0.00258, 0.02742]
    assert got["margin_ci95"] == pytest.approx([0.00258, 0.02742], abs=1e-5) and got["separable"] is True
    # Ahead in both of two seeds, but two seeds cannot tell: t(0.975, 1) = 12.71.
    got = rank_layers({3: {0: {"pnmi": 0.661}, 1: {"pnmi": 0.669}}, 4: {0: {"pnmi": 0.678}, 1: {"pnmi": 0.671}}})
    assert got["top_layer"] == 4 and got["margin_per_seed"] == pytest.approx([0.017, 0.002])
    assert got["separable"] is False and got["margin_ci95"][0] < 0 < got["margin_ci95"][1]
    # No phone alignments: held-out cross-voice ABX decides; a tie goes to the lower layer; one seed
    # gives no verdict.
    got = rank_layers({4: {0: {"pnmi": None, "abx_across_heldout": 0.95}},
                       2: {0: {"pnmi": None, "abx_across_heldout": 0.95}},
                       3: {0: {"pnmi": None, "abx_across_heldout": 0.90}}})
    assert (got["top_layer"], got["criterion"], got["margin"], got["separable"]) == (2, "abx_across_heldout", 0.0, None)
    assert got["ranking"] == [2, 4, 3]
    assert rank_layers({5: {0: {"pnmi": 0.5}}})["margin"] is None
    with pytest.raises(UserError, match="neither phone alignments"):
        rank_layers({1: {0: {"pnmi": None}}, 2: {0: {"pnmi": None}}})


def test_summary_averages_numbers_and_keeps_descriptions():
    got = summarize({0: {"pnmi": 0.6, "units_used": 90, "k": 100, "voices": ["a"], "abx_across_heldout": None},
                     1: {"pnmi": 0.7, "units_used": 95, "k": 100, "voices": ["a"], "abx_across_heldout": None}})
    assert got["mean"]["pnmi"] == pytest.approx(0.65) and got["mean"]["units_used"] == 92.5
    assert got["mean"]["k"] == 100 and isinstance(got["mean"]["k"], int)
    assert got["range"]["pnmi"] == [0.6, 0.7] and got["mean"]["voices"] == ["a"]
    assert got["mean"]["abx_across_heldout"] is None and "abx_across_heldout" not in got["range"]


@pytest.fixture(scope="module")
def two_sounds(tmp_path_factory):
    return write_two_sound_corpus(tmp_path_factory.mktemp("two") / "c")


def test_sweep_matches_fit_and_quality_run_by_hand(two_sounds, tiny_hubert, tmp_path, cli, capsys):
    from slmscale.units.quality import measure_units

    out = tmp_path / "sweep"
    got = sweep_layers(tiny_hubert, two_sounds, [two_sounds], 4, out, seeds=[0, 1], max_frames=3000, triplets=100)
    assert list(got["layers"]) == ["1", "2", "3"] and got["transformer_layers"] == 3 and got["seeds"] == [0, 1]
    mean = {int(layer): r["mean"]["pnmi"] for layer, r in got["layers"].items()}
    assert got["criterion"] == "pnmi" and mean[got["top_layer"]] == max(mean.values())
    assert [mean[layer] for layer in got["ranking"]] == sorted(mean.values(), reverse=True)
    assert json.loads((out / "layers.json").read_text())["ranking"] == got["ranking"]
    for layer, r in got["layers"].items():
        seeds = [r["seeds"][s]["pnmi"] for s in ("0", "1")]
        assert r["mean"]["pnmi"] == pytest.approx(sum(seeds) / 2) and r["range"]["pnmi"] == [min(seeds), max(seeds)]

    # Layer 2, seed 1 is what `units fit --layer 2 --seed 1` then `units quality --seed 1` give on their own.
    code, _, err = cli("units", "fit", "--manifest", str(two_sounds), "--encoder", "hubert", "--checkpoint",
                       str(tiny_hubert), "--layer", "2", "--k", "4", "--max-frames", "3000", "--seed", "1",
                       "--out", str(tmp_path / "tok2"))
    assert code == 0, err
    by_hand = measure_units(tmp_path / "tok2", [two_sounds], triplets=100, seed=1)
    swept = got["layers"]["2"]["seeds"]["1"]
    assert {k: v for k, v in swept.items() if k != "tokenizer"} == {k: v for k, v in by_hand.items() if k != "tokenizer"}
    assert "word_edits_per_s_across_heldout" in swept and swept["pnmi"] > 0

    # Rerun: every tokenizer is up to date and reused; the measures do not move.
    stamp = (layer_dir(out, 3, 0) / "centroids.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    again = sweep_layers(tiny_hubert, two_sounds, [two_sounds], 4, out, [3, 1], max_frames=3000, triplets=100)
    assert "up to date" in capsys.readouterr().err
    assert (layer_dir(out, 3, 0) / "centroids.safetensors").stat().st_mtime_ns == stamp
    assert list(again["layers"]) == ["1", "3"]
    assert again["layers"]["3"]["mean"]["pnmi"] == pytest.approx(got["layers"]["3"]["seeds"]["0"]["pnmi"])
    assert "one seed: the margin has no error bar" in format_sweep(again)


def test_layers_cli_table_and_refusals(two_sounds, tiny_hubert, tmp_path, cli):
    code, out, err = cli("units", "layers", "--checkpoint", str(tiny_hubert), "--manifest", str(two_sounds),
                         "--layers", "1,3", "--seeds", "2", "--k", "4", "--max-frames", "3000", "--triplets", "50",
                         "--out", str(tmp_path / "s"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| measure | layer 1 | layer 3 |" and "| PNMI |" in out
    assert any(line.startswith("| PNMI, range over 2 seeds | ") for line in lines)
    assert "highest PNMI: layer " in out and ", mean of 2 seeds; " in out and "ranking by PNMI: " in out
    assert ("beyond the seed-to-seed spread." in out) != ("are not separable at 2 seeds" in out)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "layer-1-seed-0", "layer-1-seed-1", "layer-3-seed-0", "layer-3-seed-1", "layers.json"]
    for argv, phrase in ((("--layers", "2,7"), "--layers 7"), (("--voice-norm", "yes"), "--voice-norm yes"),
                         (("--seeds", "0"), "--seeds 0")):
        code, _, err = cli("units", "layers", "--checkpoint", str(tiny_hubert), "--manifest", str(two_sounds),
                           *argv, "--out", str(tmp_path / "bad"))
        assert code == 2 and phrase in err, err
    assert "layers 1..3" in cli("units", "layers", "--checkpoint", str(tiny_hubert), "--manifest", str(two_sounds),
                                "--layers", "7", "--out", str(tmp_path / "bad"))[2]
    (tmp_path / "empty").mkdir()
    code, _, err = cli("units", "layers", "--checkpoint", str(tmp_path / "empty"), "--manifest", str(two_sounds),
                       "--out", str(tmp_path / "bad"))
    assert code == 2 and "no config.json" in err
    assert not (tmp_path / "bad").exists()


def test_one_forward_pass_fits_every_layer_exactly_as_units_fit(two_sounds, tiny_hubert, tmp_path, cli, monkeypatch):
    """The sweep runs the model over the fitting audio once for all its layers and seeds, and each
    tokenizer is byte for byte the one `units fit` makes on its own (voice normalisation included,
    whose statistics each seed draws from other files); fits split over several passes when their
    frames exceed SAMPLE_MEMORY give the same bytes."""
    from slmscale.units import encoders, layers
    from slmscale.units.voice_norm import VoiceNorm

    passes = []
    run = encoders.HubertEncoder._run

    def counted(self, wavs, idx, out):
        passes.append((self.layers, len(idx)))
        return run(self, wavs, idx, out)

    monkeypatch.setattr(encoders.HubertEncoder, "_run", counted)
    norm = VoiceNorm(seconds=12)
    shared = tmp_path / "shared"
    sweep_layers(tiny_hubert, two_sounds, [two_sounds], 4, shared, [1, 3], seeds=[0, 1], max_frames=3000,
                 voice_norm=norm, triplets=50)
    wide = [n for lay, n in passes if lay == (1, 3)]
    # Every training utterance once for both layers' and both seeds' fits; then the measures of
    # both layers and seeds, their voices' statistics included, pass each distinct audio file
    # once (the four voices of this corpus read the same 8 files: the same audio, the same
    # features); nothing else runs two layers.
    assert sum(wide) == 32 + 8
    assert not any(len(lay) > 1 for lay, _ in passes if lay != (1, 3))

    code, _, err = cli("units", "fit", "--manifest", str(two_sounds), "--encoder", "hubert", "--checkpoint",
                       str(tiny_hubert), "--layer", "3", "--k", "4", "--max-frames", "3000", "--seed", "1",
                       "--voice-norm", "whiten", "--voice-seconds", "12", "--out", str(tmp_path / "alone"))
    assert code == 0, err
    alone = (tmp_path / "alone" / "centroids.safetensors").read_bytes()
    assert (layer_dir(shared, 3, 1) / "centroids.safetensors").read_bytes() == alone
    assert alone != (layer_dir(shared, 3, 0) / "centroids.safetensors").read_bytes()  # the seed matters

    monkeypatch.setattr(layers, "SAMPLE_MEMORY", 1)  # one fit per pass
    passes.clear()
    apart = tmp_path / "apart"
    sweep_layers(tiny_hubert, two_sounds, [two_sounds], 4, apart, [1, 3], seeds=[0, 1], max_frames=3000,
                 voice_norm=norm, triplets=50)
    assert sum(n for lay, n in passes if len(lay) > 1) == 8  # the measures' passes only
    for layer in (1, 3):
        for seed in (0, 1):
            assert ((layer_dir(apart, layer, seed) / "centroids.safetensors").read_bytes()
                    == (layer_dir(shared, layer, seed) / "centroids.safetensors").read_bytes())
