import json
import shutil

import pytest

from slmscale.data.manifest import ManifestEntry, write_manifest
from slmscale.errors import UserError
from slmscale.units.encode import encode_manifest
from slmscale.units.encode_parts import encode_part, merge_parts, part_dir, shard_ranges
from support.audio_zoo import make_audio_zoo

SHARD_FILES = ("tokens.bin", "durations.bin", "docs.jsonl")


def _meta_without_time(path):
    meta = json.loads((path / "meta.json").read_text())
    meta.pop("created")
    return meta


def _assert_same_shards(a, b):
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in SHARD_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert _meta_without_time(a) == _meta_without_time(b)


def test_shard_ranges_are_contiguous_and_balanced():
    durations = [1.0] * 10 + [10.0] + [1.0] * 10
    ranges = shard_ranges(durations, 3)
    assert ranges[0][0] == 0 and ranges[-1][1] == 21
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert shard_ranges([1.0, 1.0], 4) == [(0, 0), (0, 1), (1, 1), (1, 2)]  # more jobs than files: some empty


@pytest.mark.parametrize("num_shards", [1, 3, 7])
def test_merged_parts_equal_single_process_bytes(tokdir, corpus, shards_dir, tmp_path, num_shards):
    out = tmp_path / "shards"
    for i in reversed(range(num_shards)):  # order of the jobs does not matter
        encode_part(tokdir, corpus, out, num_shards, i, valid_fraction=0.1, seed=0, workers=1)
    assert not out.exists() and part_dir(out, 0, num_shards).is_dir()
    merge_parts(out, num_shards=num_shards)
    _assert_same_shards(out, shards_dir)


def test_bad_files_are_skipped_and_listed_the_same_way(tokdir, tmp_path):
    good, bad = make_audio_zoo(tmp_path / "zoo")
    entries = [ManifestEntry(id=name, audio=f"zoo/{name}", duration=1.0, sample_rate=16000)
               for name in sorted([*good, *bad, "missing.wav"])]
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, entries)
    single = encode_manifest(tokdir, manifest, tmp_path / "single", workers=1)
    assert single["n_skipped"] > 0
    parts = [encode_part(tokdir, manifest, tmp_path / "x", 4, i, workers=1, part=tmp_path / f"p{i}")
             for i in range(4)]
    assert sum(len(p["skipped"]) for p in parts) == single["n_skipped"]
    merge_parts(tmp_path / "merged", parts=[tmp_path / f"p{i}" for i in (2, 0, 3, 1)])
    _assert_same_shards(tmp_path / "merged", tmp_path / "single")


def test_merge_refuses_missing_mixed_or_changed_parts(tokdir, corpus, tmp_path, capsys):
    out = tmp_path / "s"
    for i in (0, 2):
        encode_part(tokdir, corpus, out, 3, i, workers=1)
    with pytest.raises(UserError, match="00001-of-00003: not a finished encode part"):
        merge_parts(out, num_shards=3)
    with pytest.raises(UserError, match=r"missing \[1\]"):
        merge_parts(out)  # parts found by listing OUT.parts/
    # A part made with another config (here: the split seed) cannot be joined.
    encode_part(tokdir, corpus, out, 3, 1, seed=9, workers=1)
    with pytest.raises(UserError, match="another manifest, tokenizer, config"):
        merge_parts(out, num_shards=3)
    encode_part(tokdir, corpus, out, 3, 1, workers=1)
    again = encode_part(tokdir, corpus, out, 3, 1, workers=1)
    assert "up to date" in " ".join(capsys.readouterr().err.split()) and again["shard_index"] == 1
    tokens = part_dir(out, 3, 3).parent / "00001-of-00003" / "tokens.bin"
    data = bytearray(tokens.read_bytes())
    data[0] ^= 1
    tokens.write_bytes(bytes(data))
    with pytest.raises(UserError, match="changed since the part was written"):
        merge_parts(out, num_shards=3)
    assert not (out / "meta.json").exists()
    shutil.rmtree(part_dir(out, 1, 3))
    with pytest.raises(UserError, match=r"missing \[1\]"):
        merge_parts(out)
    with pytest.raises(UserError, match="--shard-index 3"):
        encode_part(tokdir, corpus, out, 3, 3)
