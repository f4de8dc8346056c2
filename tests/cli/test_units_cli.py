"""`slmscale units fit/encode/unigram` and `slmscale data inspect`, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.babble import write_babble_corpus



@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_babble_corpus(tmp_path_factory.mktemp("c"), 24, seconds=(1.0, 2.0), seed=7)


def test_fit_encode_unigram_inspect(manifest, tmp_path, cli):
    tok, shards, uni = tmp_path / "tok", tmp_path / "shards", tmp_path / "uni"
    fit = ["units", "fit", "--manifest", str(manifest), "--encoder", "mfcc", "--k", "24", "--out", str(tok),
           "--frame-rate", "25", "--workers", "1"]
    code, _, err = cli(*fit)
    assert code == 0 and "k=24" in err
    code, _, err = cli(*fit)
    assert code == 0 and "up to date" in err
    enc = ["units", "encode", "--tokenizer", str(tok), "--manifest", str(manifest), "--out", str(shards),
           "--valid-voices", "child", "--workers", "1"]
    code, _, err = cli(*enc)
    assert code == 0 and "tokens/s of audio" in err and "0 skipped" in err
    meta = json.loads((shards / "meta.json").read_text())
    assert meta["splits"]["valid"]["documents"] >= 6  # every "child" utterance plus the seeded fraction
    docs = [json.loads(line) for line in (shards / "docs.jsonl").read_text().splitlines()]
    assert all(d["split"] == "valid" for d in docs if d["voice"] == "child")
    code, _, err = cli(*enc)
    assert code == 0 and "up to date" in err
    code, _, err = cli("units", "unigram", "--shards", str(shards), "--vocab-size", "60", "--out", str(uni))
    assert code == 0 and "compression" in err
    code, out, _ = cli("data", "inspect", str(shards), "--verify")
    assert code == 0 and "tokens / s of audio" in out and "token usage" in out and "MISMATCH" not in out
    code, out, _ = cli("data", "inspect", str(uni), "--json")
    summary = json.loads(out)
    assert summary["modality"] == "unigram" and summary["compression_ratio"] > 1


def test_hubert_encoder_from_a_local_checkpoint(manifest, tmp_path, cli):
    """Acceptance 4: a tiny random HuBERT saved with save_pretrained works as --encoder hubert."""
    from support.babble import make_tiny_hubert

    ckpt = make_tiny_hubert(tmp_path / "hubert")
    code, _, err = cli("units", "fit", "--manifest", str(manifest), "--encoder", "hubert",
                       "--checkpoint", str(ckpt), "--layer", "2", "--k", "10", "--out", str(tmp_path / "tok"))
    assert code == 0, err
    code, _, err = cli("units", "encode", "--tokenizer", str(tmp_path / "tok"), "--manifest", str(manifest),
                       "--out", str(tmp_path / "shards"))
    assert code == 0, err
    meta = json.loads((tmp_path / "shards" / "meta.json").read_text())
    assert meta["tokenizer"]["encoder"] == "hubert" and meta["tokenizer"]["frame_rate"] == 50
    assert meta["documents"] == 24 and meta["unit_usage"]["used"] >= 2


@pytest.mark.parametrize("argv, message", [
    (["units", "fit", "--manifest", "nope.jsonl", "--k", "8", "--out", "t"], "manifest not found"),
    (["units", "fit", "--manifest", "m", "--encoder", "hubert", "--k", "8", "--out", "t"], "--checkpoint"),
    (["units", "fit", "--manifest", "m", "--encoder", "wav2vec", "--k", "8", "--out", "t"], "choose mfcc"),
    (["units", "fit", "--manifest", "m", "--k", "8", "--out", "t", "--layer", "3"], "apply to --encoder hubert"),
    (["units", "encode", "--tokenizer", "nowhere", "--manifest", "m", "--out", "s"], "meta.json"),
    (["units", "encode", "--tokenizer", "t", "--manifest", "m", "--out", "s", "--valid-fraction", "0.9"],
     "--valid-fraction"),
    (["data", "inspect", "nowhere"], "meta.json"),
])
def test_bad_input_is_one_line_error(argv, message, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_pickle_import_needs_allow_pickle(manifest, tmp_path, cli):
    import joblib
    import numpy as np
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=6, n_init=1, random_state=0).fit(np.random.default_rng(0).normal(size=(100, 195)))
    joblib.dump(km, tmp_path / "km.bin")
    base = ["units", "fit", "--manifest", str(manifest), "--k", "6", "--out", str(tmp_path / "tok"),
            "--import-kmeans", str(tmp_path / "km.bin")]
    code, _, err = cli(*base)
    assert code == 2 and "--allow-pickle" in err
    code, _, err = cli(*base, "--allow-pickle")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["centroids.safetensors", "config.json",
                                                                     "meta.json"]


@pytest.mark.slow
def test_acceptance_same_seed_same_bytes(manifest, tmp_path):
    """Acceptance 2 (on babble audio): fit + encode twice in fresh dirs give the same bytes, whether
    the work runs in-process (the default for small corpora) or in 2 worker processes."""
    def slm(*args: str) -> None:
        out = subprocess.run([sys.executable, "-m", "slmscale.cli.main", *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr

    for run_dir, workers in (("a", []), ("b", ["--workers", "2"])):
        d = tmp_path / run_dir
        slm("units", "fit", "--manifest", str(manifest), "--encoder", "mfcc", "--k", "20", "--out", str(d / "tok"),
            *workers)
        slm("units", "encode", "--tokenizer", str(d / "tok"), "--manifest", str(manifest), "--out", str(d / "sh"),
            *workers)
    for name in ("tok/centroids.safetensors", "tok/config.json", "sh/tokens.bin", "sh/durations.bin"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a = json.loads((tmp_path / "a" / "sh" / "docs.jsonl").read_text().splitlines()[0])
    assert a["split"] in ("train", "valid")


def test_fit_recipe_options_reach_the_bundle(manifest, tmp_path, cli):
    base = ["units", "fit", "--manifest", str(manifest), "--encoder", "mfcc", "--k", "8", "--workers", "1"]
    code, _, _ = cli(*base, "--out", str(tmp_path / "plain"), "--context", "0", "--whiten-static", "off")
    assert code == 0
    cfg = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert cfg["dim"] == 39 and cfg["encoder"]["context"] == 0 and cfg["encoder"]["whiten_static"] is None
    code, _, err = cli(*base, "--out", str(tmp_path / "bad"), "--whiten-static", "lots")
    assert code == 2 and "--whiten-static lots" in err
    assert "min_run" not in cfg  # off unless asked: older bundles and caches keep their identity
    code, _, _ = cli(*base, "--out", str(tmp_path / "smooth"), "--min-run", "3")
    assert code == 0 and json.loads((tmp_path / "smooth" / "config.json").read_text())["min_run"] == 3
    code, _, err = cli(*base, "--out", str(tmp_path / "bad2"), "--min-run", "0")
    assert code == 2 and "--min-run 0" in err and "Traceback" not in err
    assert not (tmp_path / "bad2").exists()


def test_sharded_encode_and_merge_match_one_job(manifest, tmp_path, cli):
    tok = tmp_path / "tok"
    assert cli("units", "fit", "--manifest", str(manifest), "--encoder", "mfcc", "--k", "16", "--out", str(tok),
               "--workers", "1")[0] == 0
    base = ["units", "encode", "--tokenizer", str(tok), "--manifest", str(manifest), "--workers", "1"]
    assert cli(*base, "--out", str(tmp_path / "one"))[0] == 0
    for i in range(3):
        code, _, err = cli(*base, "--out", str(tmp_path / "many"), "--num-shards", "3", "--shard-index", str(i))
        assert code == 0 and f"part {i} of 3" in err
    code, _, err = cli("units", "encode", "--out", str(tmp_path / "many"), "--num-shards", "3", "--merge")
    assert code == 0 and "documents" in err
    for name in ("tokens.bin", "durations.bin", "docs.jsonl"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    code, _, err = cli("units", "merge", str(tmp_path / "many.parts" / "00000-of-00003"), "--out", str(tmp_path / "x"))
    assert code == 2 and "missing [1, 2]" in err
    code, _, err = cli(*base, "--out", str(tmp_path / "y"), "--shard-index", "0")
    assert code == 2 and "--num-shards and --shard-index go together" in err


def test_sharded_fit_cli(manifest, tmp_path, cli):
    base = ["units", "fit", "--manifest", str(manifest), "--encoder", "mfcc", "--k", "12", "--workers", "1"]
    assert cli(*base, "--out", str(tmp_path / "one"))[0] == 0
    for i in range(2):
        code, _, err = cli(*base, "--out", str(tmp_path / "two"), "--num-shards", "2", "--shard-index", str(i))
        assert code == 0 and f"part {i} of 2" in err
    assert cli(*base, "--out", str(tmp_path / "two"), "--num-shards", "2", "--merge")[0] == 0
    assert ((tmp_path / "two" / "centroids.safetensors").read_bytes()
            == (tmp_path / "one" / "centroids.safetensors").read_bytes())
    code, _, err = cli(*base, "--out", str(tmp_path / "x"), "--num-shards", "2")
    assert code == 2 and "either --shard-index I or --merge" in err
