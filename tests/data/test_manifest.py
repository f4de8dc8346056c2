from pathlib import Path

import pytest

from slmscale.data.manifest import ManifestEntry, audio_path, read_manifest, write_manifest
from slmscale.errors import UserError


def _entry(i: str, **kw) -> ManifestEntry:
    return ManifestEntry(id=i, audio=f"audio/{i}.wav", duration=1.5, sample_rate=16000, text="a b",
                         voice="v1", words=[("a", 0.0, 0.5), ("b", 0.6, 1.4)], **kw)


def test_roundtrip(tmp_path: Path):
    m = tmp_path / "manifest.jsonl"
    assert write_manifest(m, [_entry("x"), _entry("y", split="valid")]) == 2
    back = read_manifest(m)
    assert [e.id for e in back] == ["x", "y"] and back[1].split == "valid"
    assert back[0].words[1] == ("b", 0.6, 1.4)
    assert audio_path(m, back[0]) == tmp_path / "audio" / "x.wav"


def test_errors_name_file_and_line(tmp_path: Path):
    m = tmp_path / "m.jsonl"
    write_manifest(m, [_entry("x")])
    with open(m, "a") as fh:
        fh.write('{"id": "y", "audio": "a.wav", "duration": -1, "sample_rate": 16000}\n')
    with pytest.raises(UserError, match=r"m.jsonl:2: duration"):
        read_manifest(m)
    write_manifest(m, [_entry("x"), _entry("x")])
    with pytest.raises(UserError, match="duplicate id 'x'"):
        read_manifest(m)
    m.write_text('{"id": "z", "audio": "a.wav", "duration": 1, "sample_rate": 16000, "bogus": 1}\n')
    with pytest.raises(UserError, match="bogus: unknown key"):
        read_manifest(m)
    with pytest.raises(UserError, match="manifest not found"):
        read_manifest(tmp_path / "none.jsonl")


def test_word_times_must_be_ordered():
    with pytest.raises(ValueError, match="ends"):
        ManifestEntry(id="a", audio="a.wav", duration=1, sample_rate=16000, words=[("w", 0.5, 0.2)])
