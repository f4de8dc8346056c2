"""Audio folder edge cases (issue #11, item 6): symlink loops and non-UTF-8 names are listed with
their true reason and never abort the manifest; undeclared split names are an error."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from slmscale.data.manifest import read_manifest
from slmscale.data.sources import build_folder_manifest
from slmscale.errors import UserError
from support.failures import assert_one_line_error, run_cli


def tone(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(os.fsencode(path), (0.2 * np.sin(np.arange(8000) / 5)).astype(np.float32), 16000)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "audio"
    tone(root / "spk" / "good.wav")
    tone(root / "spk" / os.fsdecode(b"caf\xe9.wav"))  # Latin-1 name: not UTF-8
    os.symlink("loop_b.wav", root / "spk" / "loop_a.wav")
    os.symlink("loop_a.wav", root / "spk" / "loop_b.wav")
    os.symlink("..", root / "spk" / "parent")  # a folder loop: must not be followed
    return root


def test_loops_and_bad_names_are_listed_with_the_true_reason(folder, tmp_path):
    res = build_folder_manifest(folder, tmp_path / "m.jsonl", workers=1)
    assert [e.id for e in res.entries] == ["spk/good"]
    reasons = {s.file: s.reason for s in res.skipped}
    assert reasons["spk/loop_a.wav"] == reasons["spk/loop_b.wav"] == "symbolic link loop"
    assert "not valid UTF-8" in reasons["spk/caf\\xe9.wav"]
    assert not any("corrupt" in r for r in reasons.values())
    meta = json.loads((tmp_path / "m.meta.json").read_text(encoding="utf-8"))
    assert {s["file"] for s in meta["skipped"]} == set(reasons)


def test_cli_exit_zero_and_one_line_per_skip(folder, tmp_path, capsys):
    code, _, err = run_cli(capsys, "data", "manifest", "folder", "--root", folder, "--out", tmp_path / "m.jsonl",
                           "--workers", "1")
    assert code == 0 and "Traceback" not in err
    assert "skipped spk/loop_a.wav: symbolic link loop" in err


def write_entries(path, splits):
    rows = [{"id": f"u{i}", "audio": "x.wav", "duration": 1.0, "sample_rate": 16000, "split": s}
            for i, s in enumerate(splits)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_unknown_split_is_an_error_naming_the_line(tmp_path, capsys):
    m = write_entries(tmp_path / "m.jsonl", ["train", "valid", "bogus"])
    with pytest.raises(UserError, match=r"m.jsonl:3: unknown split 'bogus'.*m.meta.json"):
        read_manifest(m)
    code, _, err = run_cli(capsys, "units", "fit", "--manifest", m, "--encoder", "mfcc", "--k", "4",
                           "--out", tmp_path / "tok")
    assert_one_line_error(code, err, "unknown split 'bogus'")
    assert not (tmp_path / "tok").exists()


@pytest.mark.parametrize("declared", [["dev-other"], {"dev-other": 1}])
def test_declared_splits_are_accepted(tmp_path, declared):
    m = write_entries(tmp_path / "m.jsonl", ["train", "dev-other", "test"])
    (tmp_path / "m.meta.json").write_text(json.dumps({"splits": declared}))
    assert [e.split for e in read_manifest(m)] == ["train", "dev-other", "test"]
