"""`units pretrain` end to end on tiny babble: loss goes down, the result is a HubertModel that
`units fit --encoder hubert` takes, iterations differ, a kill -9 resumes to identical weights."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.units.pretrain import pretrain_encoder
from slmscale.units.pretrain_config import PretrainConfig

TINY = {"preset": "cpu-tiny", "k": [12], "batch": 4, "crop_seconds": 0.8, "kmeans_frames": 3000,
        "lr": 2e-3, "log_every": 2, "ckpt_every": 4, "max_hours": 0.05}


def _cfg(manifest: Path, **kw) -> PretrainConfig:
    return PretrainConfig(manifest=str(manifest), **{**TINY, **kw})


@pytest.fixture(scope="module")
def pretrained(corpus: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ssl") / "hubert"
    pretrain_encoder(_cfg(corpus, iterations=2, steps=[40, 12]), out)
    return out


@pytest.mark.slow
def test_pretraining_lowers_masked_loss_and_saves_a_hubert(pretrained: Path):
    from transformers import HubertModel

    summary = json.loads((pretrained / "pretrain.json").read_text())
    first = summary["iterations"][0]
    assert first["eval_loss_end"] < first["eval_loss_start"] - 0.2
    lines = [json.loads(x) for x in (pretrained / "iter-1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(2, 41, 2))
    assert np.mean([r["loss"] for r in lines[-3:]]) < np.mean([r["loss"] for r in lines[:3]])
    model = HubertModel.from_pretrained(pretrained)
    assert model.config.num_hidden_layers == 3 and (pretrained / "model.safetensors").is_file()
    assert json.loads((pretrained / "preprocessor_config.json").read_text())["do_normalize"] is True
    assert not (pretrained / "iter-1" / "checkpoints").exists()  # removed once an iteration is done
    assert json.loads((pretrained / "meta.json").read_text())["kind"] == "hubert-pretrain"


@pytest.mark.slow
def test_fit_takes_the_model_and_iterations_differ(pretrained: Path, corpus: Path, tmp_path: Path):
    from safetensors.numpy import load_file

    from slmscale.units.bundle import SpeechTokenizer
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    units = {}
    for name, ckpt in (("it1", pretrained / "iter-1" / "model"), ("it2", pretrained)):
        enc = EncoderConfig(name="hubert", checkpoint=str(ckpt), layer=2)
        fit_tokenizer(make_fit_config(corpus, enc, k=8, max_frames=3000), tmp_path / name, workers=1)
        tok = SpeechTokenizer.load(tmp_path / name)
        assert tok.frame_rate == 50 and tok.config.encoder.name == "hubert"
        units[name] = tok.encode_file(corpus.parent / "audio" / "utt00000.wav", dedup=False)[0]
    assert len(units["it1"]) == len(units["it2"])
    assert not np.array_equal(units["it1"], units["it2"])
    # The second iteration learned other targets than the first (MFCC clusters).
    t1 = load_file(str(pretrained / "iter-1" / "targets.safetensors"))["labels"]
    t2 = load_file(str(pretrained / "iter-2" / "targets.safetensors"))["labels"]
    assert len(t1) > 1000 and not np.array_equal(t1, t2)


@pytest.mark.slow
def test_rerun_is_skipped_and_another_config_is_refused(pretrained: Path, corpus: Path, capsys):
    before = (pretrained / "model.safetensors").read_bytes()
    pretrain_encoder(_cfg(corpus, iterations=2, steps=[40, 12]), pretrained)
    assert "up to date" in " ".join(capsys.readouterr().err.split())
    assert (pretrained / "model.safetensors").read_bytes() == before
    with pytest.raises(UserError, match="another config"):
        pretrain_encoder(_cfg(corpus, iterations=2, steps=[40, 13]), pretrained)


def _last_step(metrics: Path) -> int:
    if not metrics.is_file():
        return 0
    lines = [x for x in metrics.read_text().splitlines() if x.strip()]
    return json.loads(lines[-1])["step"] if lines else 0


@pytest.mark.slow
def test_kill9_then_resume_gives_identical_weights(corpus: Path, tmp_path: Path):
    cfg = _cfg(corpus, iterations=1, steps=[20], log_every=1, ckpt_every=4)
    script = ("import sys; from slmscale.units.pretrain import pretrain_encoder; "
              "from slmscale.units.pretrain_config import PretrainConfig; "
              "pretrain_encoder(PretrainConfig.model_validate_json(sys.argv[1]), sys.argv[2])")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(out: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", script, cfg.model_dump_json(), str(out)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    killed = tmp_path / "killed"
    proc = run(killed)
    deadline = time.time() + 600
    while _last_step(killed / "iter-1" / "metrics.jsonl") < 9 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "pretraining finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 9 <= _last_step(killed / "iter-1" / "metrics.jsonl") < 20
    assert any((killed / "iter-1" / "checkpoints").glob("step-*"))
    errs = []
    for out in (killed, tmp_path / "straight"):
        p = run(out)
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
        errs.append(" ".join(err.decode().split()))
    assert "resuming from step" in errs[0] and "resuming" not in errs[1]
    a = (killed / "model.safetensors").read_bytes()
    assert a == (tmp_path / "straight" / "model.safetensors").read_bytes()
    steps = [json.loads(x)["step"] for x in (killed / "iter-1" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 21))  # the log reads as one clean run


def test_batches_map_crop_frames_to_the_original_targets(corpus: Path):
    """Crop frame i hears original sample start + f * (320 i + R/2): the target is that frame's."""
    from slmscale.units.pretrain_data import Batches, Corpus

    wav = np.random.default_rng(0).standard_normal(16000 * 6).astype(np.float32)
    labels = [np.arange(1 + len(wav) // 320, dtype=np.int32)]  # target j = its own frame index
    corp = Corpus(["u"], ["v"], [wav])
    for speed in (0.0, 0.1):
        cfg = _cfg(corpus, crop_seconds=2.0, perturb={"speed": speed, "prob": 1.0, "noise_snr_db": None})
        batches = Batches(corp, labels, 0.0, cfg, 1, receptive=400, frames_of=lambda n: (n - 400) // 320 + 1)
        b = batches.batch(5, range(4))
        assert b["x"].shape == (4, 32000) and b["targets"].shape == (4, 99) and b["mask"].shape == (4, 99)
        for row in b["targets"]:
            steps = np.diff(row)
            if speed == 0:
                assert np.all(steps == 1)  # one original frame per crop frame
            else:
                rate = (row[-1] - row[0]) / (len(row) - 1)  # original frames per crop frame = speed factor
                assert 0.88 <= rate <= 1.12 and np.all(steps >= 0)
        again = batches.batch(5, range(4))
        assert all(np.array_equal(b[k], again[k]) for k in b)
        assert not np.array_equal(b["x"], batches.batch(6, range(4))["x"])
    # The first crop frame (centred on sample start + 200) maps to the MFCC frame nearest to it.
    cfg = _cfg(corpus, crop_seconds=2.0, perturb=None)
    b = Batches(corp, labels, 0.0, cfg, 1, receptive=400, frames_of=lambda n: (n - 400) // 320 + 1)
    rows = b.batch(0, range(3))
    starts = rows["targets"][:, 0]
    assert np.all(rows["targets"] - starts[:, None] == np.arange(99))
    for row, x in zip(rows["targets"], rows["x"]):
        start = (row[0] - 1) * 320  # 200 samples past the start rounds to the next frame
        assert np.array_equal(x, wav[start:start + 32000])


def test_config_is_strict(corpus: Path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        PretrainConfig(manifest=str(corpus), unknown=1)
    with pytest.raises(ValidationError, match="layers 1..3"):
        PretrainConfig(manifest=str(corpus), layer=7)
    with pytest.raises(ValidationError, match="k=1"):
        PretrainConfig(manifest=str(corpus), k=[100, 1])
    cfg = PretrainConfig(manifest=str(corpus), k=[100, 200], steps=[5])
    assert (cfg.k_at(1), cfg.k_at(3), cfg.steps_at(2), cfg.target_layer) == (100, 200, 5, 2)
    # Preset defaults: short CPU runs use a high lr and the unmasked term; base follows HuBERT.
    assert (cfg.peak_lr, cfg.unmasked) == (3e-3, 1.0)
    base = PretrainConfig(manifest=str(corpus), preset="base")
    assert (base.peak_lr, base.unmasked, base.target_layer) == (5e-4, 0.0, 6)
    assert PretrainConfig(manifest=str(corpus), unmasked_weight=0.0, lr=1e-3).unmasked == 0.0


def test_loader_workers_build_the_same_batches(corpus: Path, tmp_path: Path):
    """Batches built ahead by two DataLoader workers train to the same bytes as batches built in
    the training process (each batch is a pure function of its step)."""
    from slmscale.units.pretrain import loader_workers

    for workers in (0, 2):
        pretrain_encoder(_cfg(corpus, iterations=1, steps=[6], loader_workers=workers), tmp_path / f"w{workers}")
    assert (tmp_path / "w0" / "model.safetensors").read_bytes() == (tmp_path / "w2" / "model.safetensors").read_bytes()
    import torch

    assert loader_workers(_cfg(corpus), torch.device("cpu"), 1) == 0  # auto: none on CPU


@pytest.mark.slow
def test_torchrun_two_processes_follow_one(corpus: Path, tmp_path: Path):
    """2-process torchrun (gloo, DDP): each rank takes half the rows of every batch."""
    import shutil

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun, "torchrun not found next to the Python interpreter"
    flags = ["--iterations", "1", "--steps", "6", "--k", "12", "--set", "batch=4", "--set", "crop_seconds=0.8",
             "--set", "kmeans_frames=3000", "--set", "max_hours=0.05", "--set", "log_every=2", "--set", "lr=0.002"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    res = subprocess.run([torchrun, "--standalone", "--nproc-per-node=2", "-m", "slmscale.cli.main", "units",
                          "pretrain", "--manifest", str(corpus), "--out", str(tmp_path / "two"), *flags],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([sys.executable, "-m", "slmscale.cli.main", "units", "pretrain", "--manifest", str(corpus),
                          "--out", str(tmp_path / "one"), *flags], env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    from transformers import HubertModel

    HubertModel.from_pretrained(tmp_path / "two")
    runs = {}
    for name in ("one", "two"):
        summary = json.loads((tmp_path / name / "pretrain.json").read_text())
        assert summary["iterations"][0]["processes"] == (2 if name == "two" else 1)
        runs[name] = [json.loads(x) for x in (tmp_path / name / "iter-1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in runs["two"]] == [2, 4, 6]
    # Same init, same rows per step; only the per-rank averaging of the masked loss differs.
    for a, b in zip(runs["one"], runs["two"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=0.03)


def test_cli_rejects_bad_options_before_any_work(corpus: Path, tmp_path: Path, cli):
    out = tmp_path / "h"
    code, _, err = cli("units", "pretrain", "--manifest", str(corpus), "--out", str(out), "--set", "bogus=1")
    assert code == 2 and "bogus" in err
    code, _, err = cli("units", "pretrain", "--manifest", str(corpus), "--out", str(out), "--steps", "10,x")
    assert code == 2 and "--steps" in err
    code, _, err = cli("units", "pretrain", "--manifest", str(corpus), "--out", str(out), "--preset", "huge")
    assert code == 2 and "preset" in err
    code, _, err = cli("units", "pretrain", "--manifest", str(corpus), "--out", str(out), "--cross-voice")
    assert code == 2 and "--cross-voice needs texts read by two voices" in err
    assert not out.exists()
    code, _, err = cli("units", "quality", "--tokenizer", str(tmp_path / "none"), "--manifest", str(corpus))
    assert code == 2 and "error:" in err


def test_targets_whitened_per_voice_follow_the_sound_not_the_gain(tmp_path: Path):
    """Iteration 2+ targets with `target_voice_norm`: a voice that is another voice at -30 dB gets
    the same cluster targets; without it the two clusters split the voices. A voice with too
    little audio is whitened with the pooled statistics of all such voices."""
    from slmscale.data.manifest import read_manifest
    from slmscale.units.encoders import build_encoder
    from slmscale.units.manifest_jobs import load_wav
    from slmscale.units.pretrain_data import Corpus, cluster_targets
    from slmscale.units.voice_norm import VoiceNorm
    from support.voices import RAW_LOGMEL, gain_corpus

    manifest = gain_corpus(tmp_path / "c")
    entries = read_manifest(manifest)
    # Raw waveforms: the pretraining loader would normalise each utterance's level away.
    corpus = Corpus([e.id for e in entries], [e.voice for e in entries],
                    [load_wav(manifest.parent / e.audio) for e in entries])
    encoder = build_encoder(RAW_LOGMEL)
    plain, _, _ = cluster_targets(encoder, corpus, 2, 0, 5000)
    normed, _, stats = cluster_targets(encoder, corpus, 2, 0, 5000, VoiceNorm())
    loud, quiet = (corpus.voices.index(v) for v in ("us-f1", "carib-f5"))
    assert (plain[loud] != plain[quiet]).mean() > 0.9  # the clusters name the voice
    assert (normed[loud] == normed[quiet]).mean() > 0.95  # the clusters name the sound
    assert stats["voice_norm"] == {"voices": 2, "pooled_voices": []}
    _, _, stats = cluster_targets(encoder, corpus, 2, 0, 5000, VoiceNorm(seconds=60, min_seconds=30))
    assert stats["voice_norm"]["pooled_voices"] == ["carib-f5", "us-f1"]  # 24 s each
    cfg = PretrainConfig(manifest=str(manifest), target_voice_norm={"seconds": 60})
    assert cfg.model_dump()["target_voice_norm"]["seconds"] == 60
    assert "target_voice_norm" not in PretrainConfig(manifest=str(manifest)).model_dump()


def test_a_finished_run_grows_by_an_iteration_and_keeps_what_it_had(corpus: Path, tmp_path: Path, capsys):
    """More iterations in the same --out reuse the finished ones (same weights as one 2-iteration
    run); a change that would alter a finished iteration is still refused."""
    one = _cfg(corpus, iterations=1, steps=[6, 4], log_every=1)
    pretrain_encoder(one, tmp_path / "grow")
    err = capsys.readouterr().err
    assert re.search(r"masked-prediction loss \d+\.\d{3} -> \d+\.\d{3} on a fixed batch", " ".join(err.split()))
    first = (tmp_path / "grow" / "iter-1" / "done.json").read_bytes()
    two = _cfg(corpus, iterations=2, steps=[6, 4], log_every=3)  # cadence changes do not matter
    pretrain_encoder(two, tmp_path / "grow")
    assert "keeping iteration(s) 1" in " ".join(capsys.readouterr().err.split())
    assert (tmp_path / "grow" / "iter-1" / "done.json").read_bytes() == first
    pretrain_encoder(two, tmp_path / "fresh")
    assert ((tmp_path / "grow" / "model.safetensors").read_bytes()
            == (tmp_path / "fresh" / "model.safetensors").read_bytes())
    with pytest.raises(UserError, match=r"another config \(differs in .*steps"):
        pretrain_encoder(_cfg(corpus, iterations=2, steps=[7, 4]), tmp_path / "grow")
    # Iteration 1 does not depend on how iteration 2 clusters its targets; iteration 2 does.
    from slmscale.units.voice_norm import VoiceNorm

    voiced = two.model_copy(update={"target_voice_norm": VoiceNorm()})
    assert one.iteration_identity(1) == voiced.iteration_identity(1)
    assert two.iteration_identity(2) != voiced.iteration_identity(2)


def test_cross_voice_targets_agree_across_readings_of_a_text(tmp_path: Path):
    """On a corpus that speaks each story in two voices, --cross-voice gives both readings one
    target sequence (up to timing); iteration 1's identity then depends on it."""
    from slmscale.audio.corpus import CorpusConfig, build_corpus
    from slmscale.units.cross_voice import CrossVoice

    build_corpus(CorpusConfig(stories=3, seed=1, voices=["us-f1", "gb-m1"], voices_per_story=2, valid_fraction=0),
                 tmp_path / "par", workers=1)
    manifest = tmp_path / "par" / "manifest.jsonl"
    cfg = _cfg(manifest, iterations=1, steps=[2], cross_voice=CrossVoice(), max_hours=1.0)
    pretrain_encoder(cfg, tmp_path / "h")
    stats = json.loads((tmp_path / "h" / "iter-1" / "targets.json").read_text())["cross_voice"]
    assert stats["groups"] == 3 and stats["readings_aligned"] == 6 and stats["readings_alone"] == 0
    assert stats["label_agreement"] > 0.9
    assert cfg.iteration_identity(1) != cfg.model_copy(update={"cross_voice": None}).iteration_identity(1)
    assert "cross_voice" not in PretrainConfig(manifest=str(manifest)).model_dump()
    # A subset smaller than one reading still takes the whole story (both readings).
    from slmscale.units.pretrain_data import load_corpus

    small = load_corpus(manifest, max_hours=0.001, seed=0)
    assert len(small.ids) == 2 and small.groups[0] == small.groups[1] != ""
