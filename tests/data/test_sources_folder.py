"""`data manifest folder`: a folder of good and malformed audio, transcripts and alignments."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from support.audio_zoo import make_audio_zoo, tone
from slmscale.audio.io import load_audio
from slmscale.data.manifest import audio_path, read_manifest
from slmscale.data.sources import build_folder_manifest
from slmscale.errors import UserError


def test_every_malformed_kind_is_skipped_with_its_reason_and_good_files_load(tmp_path, capsys):
    """Acceptance 5: the stage completes; each bad file is listed once with its reason (printed and
    in the meta); every good file is in the manifest and loads as 16 kHz mono."""
    root = tmp_path / "zoo"
    good, bad = make_audio_zoo(root)
    (root / "README.md").write_text("not audio, not a companion")
    out = tmp_path / "zoo.jsonl"
    res = build_folder_manifest(root, out)
    entries = read_manifest(out)
    assert sorted(e.audio.split("/")[-1] for e in entries) == sorted(good)
    for e in entries:
        wav = load_audio(audio_path(out, e))
        assert wav.dtype == np.float32 and wav.ndim == 1
        assert abs(len(wav) / 16000 - e.duration) < 1e-3
    meta = json.loads((tmp_path / "zoo.meta.json").read_text())
    skipped = {s["file"]: s["reason"] for s in meta["skipped"]}
    assert set(skipped) == set(bad)
    for name, phrase in bad.items():
        assert phrase in skipped[name], (name, skipped[name])
    assert meta["ignored"] == ["README.md"]
    assert meta["utterances"] == len(good)
    err = capsys.readouterr().err
    for name in bad:  # one unwrapped line per skipped file
        assert any(line.startswith(f"  skipped {name}: ") for line in err.splitlines()), name
    assert res.meta["hours"] == pytest.approx(len(good) / 3600, rel=1e-3)


def test_stereo_and_rates_are_recorded_as_native(tmp_path):
    root = tmp_path / "a"
    root.mkdir()
    sf.write(root / "st.wav", tone(0.5, 44100, channels=2), 44100, subtype="PCM_24")
    build_folder_manifest(root, tmp_path / "m.jsonl")
    (e,) = read_manifest(tmp_path / "m.jsonl")
    assert (e.sample_rate, e.duration) == (44100, 0.5)
    assert len(load_audio(audio_path(tmp_path / "m.jsonl", e))) == 8000


def _write_words_textgrid(path, words, duration):
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier

    tg = textgrid.Textgrid()
    tg.addTier(IntervalTier("words", words, 0, duration))
    tg.save(str(path), format="long_textgrid", includeBlankSpaces=True)


def test_transcripts_and_alignments(tmp_path):
    root = tmp_path / "corpus"
    (root / "spk1").mkdir(parents=True)
    (root / "spk2").mkdir()
    for rel in ("spk1/a.wav", "spk1/b.flac", "spk2/c.wav", "spk2/d.wav", "top.wav"):
        sf.write(root / rel, tone(1.0, 16000), 16000)
    (root / "spk1" / "a.txt").write_text("hello  world\n")
    (root / "spk1" / "a.json").write_text(json.dumps({"aligned_text": [["hello", 0.1, 0.4],
                                                                       ["world", 0.5, 0.9]]}))
    _write_words_textgrid(root / "spk1" / "b.TextGrid", [(0.0, 0.3, "good"), (0.3, 0.4, "sil"),
                                                         (0.4, 0.8, "day")], 1.0)
    (root / "spk2" / "c.json").write_text('{"aligned_text": [["late", 0.5, 3.0]]}')  # past the end
    (root / "spk2" / "d.json").write_text("{not json")
    tsv = tmp_path / "texts.tsv"
    tsv.write_text("path\ttext\nspk1/b.flac\tgood day\nspk2/c\tlate text\nbroken line\nmissing.wav\tx\n")
    out = tmp_path / "m.jsonl"
    res = build_folder_manifest(root, out, transcripts=tsv)
    by_id = {e.id: e for e in read_manifest(out)}
    assert set(by_id) == {"spk1/a", "spk1/b", "spk2/c", "spk2/d", "top"}
    assert by_id["spk1/a"].text == "hello world" and by_id["spk1/a"].voice == "spk1"
    assert by_id["spk1/a"].words == [("hello", 0.1, 0.4), ("world", 0.5, 0.9)]
    assert by_id["spk1/b"].text == "good day"
    assert by_id["spk1/b"].words == [("good", 0.0, 0.3), ("day", 0.4, 0.8)]
    assert by_id["spk2/c"].text == "late text" and by_id["spk2/c"].words == []
    assert by_id["top"].voice == ""
    align = {s.file: s.reason for s in res.alignment_errors}
    assert "after the audio" in align["spk2/c.json"] and "not valid JSON" in align["spk2/d.json"]
    skipped = {s.file: s.reason for s in res.skipped}
    assert "texts.tsv:4" in skipped and "missing.wav" in skipped


def test_cache_skips_and_detects_changes(tmp_path, capsys):
    root = tmp_path / "r"
    root.mkdir()
    sf.write(root / "x.wav", tone(0.5, 16000), 16000)
    out = tmp_path / "m.jsonl"
    build_folder_manifest(root, out)
    first = out.read_bytes()
    build_folder_manifest(root, out)
    assert "up to date" in capsys.readouterr().err
    sf.write(root / "y.wav", tone(0.25, 16000), 16000)
    build_folder_manifest(root, out)
    assert len(read_manifest(out)) == 2 and out.read_bytes() != first


def test_parallel_check_gives_the_same_manifest(tmp_path):
    root = tmp_path / "zoo"
    make_audio_zoo(root)
    build_folder_manifest(root, tmp_path / "one.jsonl", workers=1)
    build_folder_manifest(root, tmp_path / "two.jsonl", workers=2)
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "two.jsonl").read_text()
    one = json.loads((tmp_path / "one.meta.json").read_text())["skipped"]
    two = json.loads((tmp_path / "two.meta.json").read_text())["skipped"]
    assert one == two


def test_no_verify_reads_headers_only(tmp_path):
    root = tmp_path / "zoo"
    make_audio_zoo(root)
    res = build_folder_manifest(root, tmp_path / "m.jsonl", verify=False)
    skipped = {s.file for s in res.skipped}
    # Header problems are still caught; sample-level ones (NaN) need the full decode.
    assert {"empty.wav", "zero_frames.wav", "notes.wav", "truncated.wav"} <= skipped
    assert "nan.wav" not in skipped


def test_user_errors(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        build_folder_manifest(tmp_path / "nope", tmp_path / "m.jsonl")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "bad.wav").write_bytes(b"")
    with pytest.raises(UserError, match="no usable audio"):
        build_folder_manifest(tmp_path / "empty", tmp_path / "m.jsonl")
    with pytest.raises(UserError, match="--split"):
        build_folder_manifest(tmp_path / "empty", tmp_path / "m.jsonl", split="dev")
