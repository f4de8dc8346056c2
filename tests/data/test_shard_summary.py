import numpy as np

from slmscale.data.shards import Shards
from slmscale.data.shard_summary import rank_buckets, summarize


def test_summary_counts_and_checksums(shards_dir):
    s = summarize(shards_dir, verify=True)
    meta = Shards(shards_dir).meta
    assert s["documents"] == meta["documents"] and s["tokens"] == meta["tokens"]
    assert s["counts"] == meta["unit_usage"]["histogram"]
    assert s["usage"]["used"] == meta["unit_usage"]["used"] and s["usage"]["content_ids"] == 32
    assert 0 < s["usage"]["entropy_bits"] <= np.log2(32)
    assert all(s["checksums_ok"].values())
    assert s["mean_duration_frames"] > 1


def test_checksum_mismatch_is_reported(shards_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(shards_dir, copy)
    data = bytearray((copy / "tokens.bin").read_bytes())
    data[0] ^= 1  # still a valid unit id (< 32), different bytes
    (copy / "tokens.bin").write_bytes(bytes(data))
    ok = summarize(copy, verify=True)["checksums_ok"]
    assert ok["tokens.bin"] is False and ok["docs.jsonl"] is True


def test_rank_buckets_cover_all_tokens():
    counts = np.array([50, 0, 30, 20])
    buckets = rank_buckets(counts, n_buckets=2)
    assert buckets == [(1, 2, 0.8), (3, 4, 0.2)]
    buckets = rank_buckets(np.arange(100), 7)
    assert len(buckets) == 7 and buckets[-1][1] == 100
    assert abs(sum(b[2] for b in buckets) - 1.0) < 1e-9


def test_text_shards_without_audio_stats(tmp_path):
    from slmscale.data.shards import ShardWriter

    w = ShardWriter(tmp_path / "t", vocab_size=12, special_tokens={"bos": 10, "eos": 11}, modality="text")
    w.add(np.array([1, 2, 2, 3]), doc_id="a")
    w.add(np.array([3, 3]), doc_id="b", split="valid")
    w.close({"demo": True})
    s = summarize(tmp_path / "t")
    assert s["usage"]["content_ids"] == 10 and s["usage"]["used"] == 3
    assert s["counts"][:4] == [0, 1, 2, 3] and s["audio_hours"] is None
