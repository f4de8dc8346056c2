"""Importing other tools' unit files and datasets; exporting shards as a datasets dataset."""

import json

import numpy as np
import pytest

from slmscale.data.interop import export_shards, import_units
from slmscale.data.interop_read import parse_units
from slmscale.data.shards import Shards
from slmscale.errors import UserError


def _docs(path):
    return (path / "docs.jsonl").read_text().splitlines()


def test_parse_unit_strings():
    assert parse_units("<Un3><Un49><Un7>", "x").tolist() == [3, 49, 7]
    assert parse_units(" 12 5,7 ", "x").tolist() == [12, 5, 7]
    assert parse_units([1, 2], "x").tolist() == [1, 2]
    with pytest.raises(UserError, match="f.txt:3: units must be integers"):
        parse_units("1 two 3", "f.txt:3")
    with pytest.raises(UserError, match="mixes"):
        parse_units("<Un3> 4", "x")


def test_slamkit_features_and_tokens_files(tmp_path):
    # slamkit's two layouts: deduplicated units with per-unit durations, and <UnN> token strings.
    feats = tmp_path / "features.jsonl"
    feats.write_text(json.dumps({"units": [3, 9, 3, 1], "duration": [1, 2, 1, 3], "file_name": "a.flac"}) + "\n"
                     + json.dumps({"units": [4, 4, 2], "duration": [1, 1, 1], "file_name": "b.flac"}) + "\n")
    meta = import_units(feats, tmp_path / "s1", k=10, valid_fraction=0)
    s = Shards(tmp_path / "s1")
    assert meta["vocab_size"] == 12 and s.special_tokens == {"bos": 10, "eos": 11} and meta["has_durations"]
    assert [d["id"] for d in s.docs] == ["a.flac", "b.flac"]
    assert s.doc(0).tolist() == [3, 9, 3, 1] and s.doc_durations(0).tolist() == [1, 2, 1, 3]
    # --dedup merges the repeated 4 of b.flac and adds its frames.
    import_units(feats, tmp_path / "s2", k=10, valid_fraction=0, dedup=True)
    s2 = Shards(tmp_path / "s2")
    assert s2.doc(1).tolist() == [4, 2] and s2.doc_durations(1).tolist() == [2, 1]
    toks = tmp_path / "tokens.jsonl"
    toks.write_text(json.dumps({"file_name": "a.flac", "audio_repr": "<Un3><Un9><Un9><Un1>"}) + "\n")
    import_units(toks, tmp_path / "s3", valid_fraction=0, dedup=True)
    s3 = Shards(tmp_path / "s3")
    assert s3.vocab_size == 12 and s3.doc(0).tolist() == [3, 9, 1] and s3.doc_durations(0).tolist() == [1, 2, 1]


def test_textless_text_lines_and_bad_input(tmp_path):
    f = tmp_path / "units.txt"
    f.write_text("utt1|5 5 6 7\nutt2|1 2\n\nutt3\t0 0 0\n")
    meta = import_units(f, tmp_path / "s", valid_fraction=0)
    s = Shards(tmp_path / "s")
    assert [d["id"] for d in s.docs] == ["utt1", "utt2", "utt3"] and meta["tokenizer"]["k"] == 8
    assert s.doc(0).tolist() == [5, 5, 6, 7] and s.durations_flat is None  # kept as given
    with pytest.raises(UserError, match="unit id 7 is out of range for 5 units"):
        import_units(f, tmp_path / "bad", k=5)
    f.write_text("utt1|5 6\nutt1|1 2\n")
    with pytest.raises(UserError, match="'utt1' appears twice"):
        import_units(f, tmp_path / "dup")
    assert not (tmp_path / "dup" / "meta.json").exists()


def test_export_round_trips_to_identical_shards(shards_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    export_shards(shards_dir, tmp_path / "ds")
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    s = Shards(shards_dir)
    assert len(ds) == len(s) and ds[0]["id"] == s.docs[0]["id"] and ds[0]["units"] == s.doc(0).tolist()
    meta = import_units(tmp_path / "ds", tmp_path / "back")
    for name in ("tokens.bin", "durations.bin", "docs.jsonl"):
        assert (tmp_path / "back" / name).read_bytes() == (shards_dir / name).read_bytes(), name
    for key in ("vocab_size", "special_tokens", "tokenizer", "dtype", "modality", "splits", "checksums"):
        assert meta[key] == s.meta[key], key


def test_dataset_with_a_units_column_and_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"file": ["a", "b"], "speech_units": [[1, 2, 2], [3]]}),
        "validation": datasets.Dataset.from_dict({"file": ["c"], "speech_units": [[0, 1]]}),
    })
    dd.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(UserError, match="no units column"):
        import_units(tmp_path / "dd", tmp_path / "x")
    import_units(tmp_path / "dd", tmp_path / "s", column="speech_units", k=4)
    s = Shards(tmp_path / "s")
    assert [(d["id"], d["split"]) for d in s.docs] == [("a", "train"), ("b", "train"), ("c", "valid")]
    assert np.asarray(s.tokens).tolist() == [1, 2, 2, 3, 0, 1]


def test_missing_datasets_package_is_one_line(tmp_path, monkeypatch, shards_dir):
    import builtins

    real = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(UserError, match=r"pip install 'slmscale\[hf\]'"):
        export_shards(shards_dir, tmp_path / "ds")
