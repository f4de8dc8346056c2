"""`slmscale data manifest folder|librispeech` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import soundfile as sf

from support.audio_zoo import make_audio_zoo, tone


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmscale.cli.main", *args], capture_output=True, text=True)


def test_folder_with_malformed_files_completes_and_lists_them(tmp_path):
    good, bad = make_audio_zoo(tmp_path / "zoo")
    out = _run("data", "manifest", "folder", "--root", str(tmp_path / "zoo"), "--out", str(tmp_path / "m.jsonl"),
               "--workers", "2")
    assert out.returncode == 0, out.stderr
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == len(good)
    for name in bad:
        assert f"skipped {name}: " in out.stderr
    meta = json.loads((tmp_path / "m.meta.json").read_text())
    assert {s["file"] for s in meta["skipped"]} == set(bad)


def test_librispeech_and_errors(tmp_path):
    d = tmp_path / "LS" / "test-clean" / "7" / "11"
    d.mkdir(parents=True)
    sf.write(d / "7-11-0000.flac", tone(0.4, 16000), 16000)
    (d / "7-11.trans.txt").write_text("7-11-0000 HELLO THERE\n")
    out = _run("data", "manifest", "librispeech", "--root", str(tmp_path / "LS"), "--split", "test-clean",
               "--out", str(tmp_path / "t.jsonl"))
    assert out.returncode == 0, out.stderr
    row = json.loads((tmp_path / "t.jsonl").read_text())
    assert (row["voice"], row["split"], row["text"]) == ("7", "test", "HELLO THERE")
    bad = _run("data", "manifest", "librispeech", "--root", str(tmp_path / "LS"), "--split", "dev-clean",
               "--out", str(tmp_path / "d.jsonl"))
    assert bad.returncode == 2 and "no such split folder" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_malformed_folder_end_to_end_good_files_are_encoded(tmp_path):
    """Acceptance 5 through the user's commands: manifest -> units fit -> units encode."""
    good, bad = make_audio_zoo(tmp_path / "zoo")
    m, tok, shards = tmp_path / "m.jsonl", tmp_path / "tok", tmp_path / "shards"
    out = _run("data", "manifest", "folder", "--root", str(tmp_path / "zoo"), "--out", str(m))
    assert out.returncode == 0, out.stderr
    fit = _run("units", "fit", "--manifest", str(m), "--encoder", "mfcc", "--k", "8", "--out", str(tok))
    assert fit.returncode == 0, fit.stderr
    enc = _run("units", "encode", "--tokenizer", str(tok), "--manifest", str(m), "--out", str(shards))
    assert enc.returncode == 0, enc.stderr
    meta = json.loads((shards / "meta.json").read_text())
    assert meta["documents"] == len(good)
