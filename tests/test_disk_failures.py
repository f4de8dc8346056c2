"""Read-only and full output folders (issue #11, item 5): every stage ends in one line naming the
path (exit 2), leaves no temporary or half-written file, and writes nothing outside its output.

Tests run as root, where chmod does not stop writes, so the disk is failed at the write layer:
os.fsync (every atomic write and every shard/checkpoint file calls it) raises ENOSPC or EROFS.
bench/faults.py repeats these on a real, small tmpfs where mounting is permitted.
"""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import soundfile as sf

from support.failures import (assert_one_line_error, changed_outside, failing_fsync, partials, run_cli,
                              snapshot, train_yaml, unit_shards)

DISKS = [(errno.ENOSPC, "no space left on the device"), (errno.EROFS, "read-only file system")]


def tones(folder, n=4):
    folder.mkdir(parents=True)
    for i in range(n):
        t = np.arange(16000) / 16000
        sf.write(folder / f"u{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32), 16000)
    return folder


def check(tmp_path, before, out_name, code, err, phrase):
    assert_one_line_error(code, err, phrase)
    assert not partials(tmp_path), partials(tmp_path)
    assert changed_outside(before, snapshot(tmp_path), out_name) == []


@pytest.mark.parametrize("code_, phrase", DISKS)
def test_data_manifest(tmp_path, capsys, monkeypatch, code_, phrase):
    tones(tmp_path / "audio")
    before = snapshot(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync(code_))
    code, _, err = run_cli(capsys, "data", "manifest", "folder", "--root", tmp_path / "audio",
                           "--out", tmp_path / "out" / "m.jsonl", "--workers", "1")
    check(tmp_path, before, "out", code, err, phrase)
    assert "m.jsonl" in err
    assert not (tmp_path / "out" / "m.jsonl").exists()


@pytest.mark.parametrize("code_, phrase", DISKS)
def test_units_fit_and_encode(corpus, tokdir, tmp_path, capsys, monkeypatch, code_, phrase):
    before = snapshot(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync(code_))
    code, _, err = run_cli(capsys, "units", "fit", "--manifest", corpus, "--encoder", "mfcc", "--k", "8",
                           "--out", tmp_path / "tok", "--workers", "1")
    check(tmp_path, before, "tok", code, err, phrase)
    assert not (tmp_path / "tok" / "meta.json").exists()
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, "units", "encode", "--tokenizer", tokdir, "--manifest", corpus,
                           "--out", tmp_path / "sh", "--workers", "1")
    check(tmp_path, before, "sh", code, err, phrase)
    assert str(tmp_path / "sh") in err and not (tmp_path / "sh" / "meta.json").exists()


@pytest.mark.parametrize("code_, phrase", DISKS)
def test_units_unigram(tmp_path, capsys, monkeypatch, code_, phrase):
    shards = unit_shards(tmp_path / "sh")
    before = snapshot(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync(code_))
    code, _, err = run_cli(capsys, "units", "unigram", "--shards", shards, "--vocab-size", "30",
                           "--out", tmp_path / "uni")
    check(tmp_path, before, "uni", code, err, phrase)


@pytest.mark.parametrize("code_, phrase", DISKS)
def test_train_start(tmp_path, capsys, monkeypatch, code_, phrase):
    shards = unit_shards(tmp_path / "sh")
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run")
    before = snapshot(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync(code_))
    code, _, err = run_cli(capsys, "train", cfg)
    check(tmp_path, before, "run", code, err, phrase)
    assert not (tmp_path / "run").exists()  # nothing but the lock was made, and that is gone


def test_train_disk_fills_during_a_checkpoint_then_resumes(tmp_path, capsys, monkeypatch):
    """The disk fills half-way through writing the second checkpoint: one line, no half checkpoint,
    the run is marked failed, and rerunning (space freed) resumes and finishes."""
    import safetensors.torch as st

    shards = unit_shards(tmp_path / "sh")
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run")
    real, calls = st.save_file, []

    def save_file(tensors, path, *a, **k):
        calls.append(path)
        if len(calls) == 4:  # step 4: model.safetensors half written, then the disk is full
            with open(path, "wb") as fh:
                fh.write(b"\0" * 64)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real(tensors, path, *a, **k)

    monkeypatch.setattr(st, "save_file", save_file)
    code, _, err = run_cli(capsys, "train", cfg)
    assert_one_line_error(code, err, "model.safetensors", "no space left")
    run = tmp_path / "run"
    assert not partials(run) and sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000002"]
    assert '"status": "failed"' in (run / "summary.json").read_text()
    assert not (run / "meta.json").exists() and not (run / "final").exists()
    monkeypatch.setattr(st, "save_file", real)
    code, _, err = run_cli(capsys, "train", cfg)
    assert code == 0 and "resuming run from step 2/6" in err, err
    assert (run / "meta.json").is_file()


@pytest.mark.parametrize("code_, phrase", DISKS)
def test_synth_corpus(tmp_path, capsys, monkeypatch, code_, phrase):
    before = snapshot(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync(code_))
    code, _, err = run_cli(capsys, "synth", "corpus", "--out", tmp_path / "c", "--stories", "2",
                           "--workers", "1")
    check(tmp_path, before, "c", code, err, phrase)
    assert ".wav" in err  # names the file it could not write
    assert not list((tmp_path / "c").rglob("*.wav")) and not (tmp_path / "c" / "meta.json").exists()
