"""`data manifest librispeech`: transcripts, speakers, splits, and every inconsistency reported."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from support.audio_zoo import tone
from slmscale.data.manifest import audio_path, read_manifest
from slmscale.data.sources import build_librispeech_manifest
from slmscale.data.sources.librispeech import split_role
from slmscale.errors import UserError


def _make(root, split="dev-clean"):
    """Two speakers, three chapters; a few planted problems."""
    layout = {("19", "198"): ["0000", "0001"], ("19", "227"): ["0000"], ("26", "495"): ["0003", "0004"]}
    for (spk, ch), utts in layout.items():
        d = root / split / spk / ch
        d.mkdir(parents=True)
        lines = []
        for u in utts:
            uid = f"{spk}-{ch}-{u}"
            sf.write(d / f"{uid}.flac", tone(0.5 + 0.1 * int(u[-1]), 16000), 16000)
            lines.append(f"{uid} SOME WORDS FOR {u}")
        (d / f"{spk}-{ch}.trans.txt").write_text("\n".join(lines) + "\n")
    d = root / split / "26" / "495"
    (d / "26-495-0004.flac").write_bytes(b"fLaC but not really")  # corrupt audio
    sf.write(d / "26-495-0009.flac", tone(0.3, 16000), 16000)  # no transcript line
    with open(d / "26-495.trans.txt", "a") as fh:
        fh.write("26-495-0007 LISTED BUT NO AUDIO\n19-198-0005 WRONG CHAPTER\n26-495-0008\n")
    return root


def test_builds_manifest_with_speakers_text_and_reasons(tmp_path):
    root = _make(tmp_path / "LibriSpeech")
    out = tmp_path / "dev.jsonl"
    res = build_librispeech_manifest(root, "dev-clean", out)
    entries = read_manifest(out)
    assert [e.id for e in entries] == ["19-198-0000", "19-198-0001", "19-227-0000", "26-495-0003"]
    e = entries[1]
    assert (e.voice, e.split, e.text, e.sample_rate) == ("19", "valid", "SOME WORDS FOR 0001", 16000)
    assert e.duration == pytest.approx(0.6)
    assert audio_path(out, e).is_file()
    skipped = {s.file: s.reason for s in res.skipped}
    assert "corrupt" in skipped["dev-clean/26/495/26-495-0004.flac"]
    assert "no transcript" in skipped["dev-clean/26/495/26-495-0009.flac"]
    assert "no audio file" in skipped["26-495-0007"]
    assert "does not belong" in skipped["dev-clean/26/495/26-495.trans.txt:4"]
    assert "no text" in skipped["dev-clean/26/495/26-495.trans.txt:5"]
    assert len(skipped) == 5
    meta = json.loads((tmp_path / "dev.meta.json").read_text())
    assert meta["utterances"] == 4 and len(meta["skipped"]) == 5 and meta["voices"] == 2


def test_alignments_folder_is_used(tmp_path):
    root = _make(tmp_path / "LS")
    al = tmp_path / "align"
    al.mkdir()
    (al / "19-227-0000.json").write_text(json.dumps({"aligned_text": [["SOME", 0.0, 0.2], ["WORDS", 0.2, 0.45]]}))
    build_librispeech_manifest(root, "dev-clean", tmp_path / "m.jsonl", alignments=al)
    by_id = {e.id: e for e in read_manifest(tmp_path / "m.jsonl")}
    assert by_id["19-227-0000"].words == [("SOME", 0.0, 0.2), ("WORDS", 0.2, 0.45)]
    assert by_id["19-198-0000"].words == []


def test_split_roles_and_errors(tmp_path):
    assert [split_role(s) for s in ("train-clean-100", "dev-other", "test-clean")] == ["train", "valid", "test"]
    root = _make(tmp_path / "LS")
    with pytest.raises(UserError, match="found: dev-clean"):
        build_librispeech_manifest(root, "train-clean-100", tmp_path / "m.jsonl")
    with pytest.raises(UserError, match="LibriSpeech root"):
        build_librispeech_manifest(tmp_path / "nothing", "dev-clean", tmp_path / "m.jsonl")
