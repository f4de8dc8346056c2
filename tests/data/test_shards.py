from pathlib import Path

import numpy as np
import pytest

from slmscale.data.shards import Shards, ShardWriter, dtype_for_vocab, is_shards
from slmscale.errors import UserError


def _build(path: Path, vocab: int = 102) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, vocab - 2, size=n) for n in (5, 0, 9, 3)]
    w = ShardWriter(path, vocab, {"bos": vocab - 2, "eos": vocab - 1}, "units", {"kind": "units"},
                    with_durations=True)
    for i, d in enumerate(docs):
        w.add(d, f"d{i}", split="valid" if i == 2 else "train", voice=f"v{i % 2}", source=f"s{i}",
              durations=np.full(len(d), 2))
    w.close({"cfg": 1})
    return docs


def test_roundtrip_and_splits(tmp_path: Path):
    docs = _build(tmp_path)
    s = Shards(tmp_path)
    assert is_shards(tmp_path) and len(s) == 4 and s.vocab_size == 102
    assert s.eos_id == 101 and s.bos_id == 100 and s.pad_id == 101
    for i, d in enumerate(docs):
        np.testing.assert_array_equal(s.doc(i), d)
        np.testing.assert_array_equal(s.doc_durations(i), np.full(len(d), 2))
    assert list(s.indices("valid")) == [2] and s.split_tokens("train") == 8
    assert s.meta["splits"]["valid"] == {"documents": 1, "tokens": 9}
    assert s.tokens.dtype == np.uint16 and s.meta["has_durations"]


def test_same_input_same_bytes(tmp_path: Path):
    _build(tmp_path / "a")
    _build(tmp_path / "b")
    for name in ("tokens.bin", "durations.bin", "docs.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_rejects_out_of_range_and_damage(tmp_path: Path):
    w = ShardWriter(tmp_path / "x", 10, {"eos": 9}, "units")
    with pytest.raises(ValueError, match="out of range"):
        w.add(np.array([3, 10]), "bad")
    w.abort()
    assert not list((tmp_path / "x").glob(".*tmp"))
    _build(tmp_path / "y")
    with open(tmp_path / "y" / "tokens.bin", "ab") as fh:
        fh.write(b"\0\0")
    with pytest.raises(UserError, match="damaged"):
        Shards(tmp_path / "y")
    with pytest.raises(UserError, match="no meta.json"):
        Shards(tmp_path / "nothing")


def test_large_vocab_uses_uint32():
    assert dtype_for_vocab(65536) == np.uint16 and dtype_for_vocab(65537) == np.uint32
