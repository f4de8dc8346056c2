"""`slmscale synth corpus` and `synth voices` as a user runs them (subprocess, real exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmscale.cli.main", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_corpus_build_rerun_and_identical_second_build(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    first = _run("synth", "corpus", "--out", str(a), "--stories", "3", "--seed", "1", "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "3 utterances" in first.stderr
    again = _run("synth", "corpus", "--out", str(a), "--stories", "3", "--seed", "1")
    assert again.returncode == 0 and "up to date" in again.stderr
    assert _run("synth", "corpus", "--out", str(b), "--stories", "3", "--seed", "1",
                "--workers", "1").returncode == 0
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()
    for line in (a / "manifest.jsonl").read_text().splitlines():
        rel = json.loads(line)["audio"]
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    meta = json.loads((a / "meta.json").read_text())
    assert meta["config"]["seed"] == 1 and meta["utterances"] == 3


@pytest.mark.parametrize("args, phrase", [
    (["--stories", "2", "--hours", "1"], "not both"),
    ([], "--hours H or --stories N"),
    (["--stories", "2", "--voices", "us-f1,nobody"], "unknown voice 'nobody'"),
    (["--stories", "2", "--voices", " , "], "--voices ' , ': empty"),
    (["--stories", "0"], "stories"),
    (["--stories", "2", "--workers", "0"], "--workers"),
    (["--text", "/no/such/file.txt"], "not found"),
    (["--stories", "2", "--voices", "us-f1", "--voices-per-story", "2"], "--voices-per-story 2: only 1 voice given"),
    (["--stories", "2", "--voices-per-story", "0"], "voices_per_story"),
])
def test_bad_options_fail_with_one_line(tmp_path, capsys, args, phrase):
    from slmscale.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["synth", "corpus", "--out", str(tmp_path / "c"), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert phrase in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_voices_listing():
    out = _run("synth", "voices")
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and len(lines) >= 8
    assert sum(" test " in line for line in lines) >= 2


def test_say_writes_a_wav_and_prints_word_times(tmp_path, capsys):
    import soundfile as sf

    from slmscale.cli.main import main

    with pytest.raises(SystemExit) as ex:  # the CLI ends every command with its exit code
        main(["synth", "say", "Hello there, my friend.", "--voice", "gb-m1", "--out", str(tmp_path / "x.wav")])
    assert ex.value.code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == ["Hello", "there", "my", "friend"]
    info = sf.info(tmp_path / "x.wav")
    assert (info.samplerate, info.channels) == (16000, 1) and info.duration >= rows[-1][2]


def test_no_story_flag(tmp_path):
    src = tmp_path / "stories.txt"
    src.write_text("The cat sat. It was warm.\n\nA dog ran home. The sun set. Night came.\n")
    out = _run("synth", "corpus", "--out", str(tmp_path / "n"), "--text", str(src), "--no-story",
               "--seed", "3", "--workers", "1")
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "n" / "meta.json").read_text())
    assert meta["config"]["no_story"] is True and "shuffled" in meta["story_structure"]
    texts = [json.loads(line)["text"] for line in (tmp_path / "n" / "manifest.jsonl").read_text().splitlines()]
    sentences = sorted(s for t in texts for s in t.replace(". ", ".|").split("|"))
    assert sentences == sorted(["The cat sat.", "It was warm.", "A dog ran home.", "The sun set.",
                                "Night came."])
    assert [len(t.replace(". ", ".|").split("|")) for t in texts] == [2, 3]


def test_voices_per_story_flag(tmp_path):
    out = _run("synth", "corpus", "--out", str(tmp_path / "p"), "--stories", "2", "--voices", "us-f1,gb-m1",
               "--voices-per-story", "2", "--workers", "1")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in (tmp_path / "p" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and len({r["group"] for r in rows}) == 2
    assert {r["voice"] for r in rows} == {"us-f1", "gb-m1"}
