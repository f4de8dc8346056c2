import numpy as np
import pytest

from slmscale.data.loader import PackedStream, TrainBatches, validation_sequences
from slmscale.data.shards import ShardWriter, Shards
from slmscale.errors import UserError

EOS = 51


@pytest.fixture()
def shards(tmp_path):
    rng = np.random.default_rng(0)
    w = ShardWriter(tmp_path / "sh", 52, {"bos": 50, "eos": EOS}, "units")
    for i in range(30):
        w.add(rng.integers(0, 50, int(rng.integers(1, 40))), f"t{i}", split="train")
    for i in range(5):
        w.add(rng.integers(0, 50, 25), f"v{i}", split="valid")
    w.close({})
    return Shards(tmp_path / "sh")


def expected_epoch(sh, seed, epoch):
    ids = sh.indices("train")
    order = ids[np.random.default_rng([seed, epoch]).permutation(len(ids))]
    return np.concatenate([np.append(sh.doc(i).astype(np.int64), EOS) for i in order])


def test_stream_is_shuffled_documents_with_eos_across_epochs(shards):
    stream = PackedStream(shards, "train", seed=7)
    e0, e1 = expected_epoch(shards, 7, 0), expected_epoch(shards, 7, 1)
    assert stream.epoch_tokens == len(e0)
    assert not np.array_equal(e0, e1)  # a new order each epoch
    both = np.concatenate([e0, e1])
    np.testing.assert_array_equal(stream.read(0, len(both)), both)
    for start, n in [(3, 17), (len(e0) - 5, 11), (len(e0) + 2, 40)]:  # incl. an epoch boundary
        np.testing.assert_array_equal(stream.read(start, n), both[start:start + n])
    assert set(np.unique(stream.read(0, len(e0)))) <= set(range(50)) | {EOS}


def test_batches_are_shifted_windows_deterministic_and_seeded(shards):
    t, b = 16, 4
    batches = TrainBatches(PackedStream(shards, "train", seed=1), t, b)
    flat = PackedStream(shards, "train", seed=1).read(0, 10 * b * t + 1)
    for step in (0, 3, 9):
        x, y = batches.batch(step)
        assert x.shape == y.shape == (b, t)
        np.testing.assert_array_equal(x.ravel(), flat[step * b * t: (step + 1) * b * t])
        np.testing.assert_array_equal(y.ravel(), flat[step * b * t + 1: (step + 1) * b * t + 1])
    again = TrainBatches(PackedStream(shards, "train", seed=1), t, b).batch(5)
    np.testing.assert_array_equal(again[0], batches.batch(5)[0])
    other = TrainBatches(PackedStream(shards, "train", seed=2), t, b).batch(5)
    assert not np.array_equal(other[0], again[0])
    assert batches.epochs(10) == pytest.approx(10 * b * t / batches.stream.epoch_tokens)


def test_rank_shards_partition_the_global_batch(shards):
    stream = PackedStream(shards, "train", seed=3)
    whole = TrainBatches(stream, 8, 6).batch(4)[0]
    parts = [TrainBatches(stream, 8, 6, rank=r, world_size=3).batch(4)[0] for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    with pytest.raises(UserError, match="does not split"):
        TrainBatches(stream, 8, 5, world_size=2)


def test_validation_windows_are_fixed_and_cover_the_split(shards):
    v = validation_sequences(shards, "valid", 10, None)
    ids = shards.indices("valid")
    flat = np.concatenate([np.append(shards.doc(i).astype(np.int64), EOS) for i in ids])
    assert v.shape == ((len(flat) - 1) // 10, 11)
    np.testing.assert_array_equal(v[1], flat[10:21])
    capped = validation_sequences(shards, "valid", 10, max_tokens=30)
    assert capped.shape == (3, 11)
    short = validation_sequences(shards, "valid", 1000, None)
    assert short.shape == (1, len(flat))
    with pytest.raises(UserError, match="no 'test' documents"):
        validation_sequences(shards, "test", 10, None)


def test_max_tokens_trains_on_a_nested_prefix_of_documents(shards):
    ids = shards.indices("train")
    cum = np.cumsum(shards.lengths[ids])
    limit = int(cum[9])  # exactly the first 10 documents
    stream = PackedStream(shards, "train", seed=3, max_tokens=limit)
    assert list(stream.doc_ids) == list(ids[:10])
    assert stream.epoch_tokens == limit + 10  # each document plus its EOS
    two_epochs = stream.read(0, 2 * stream.epoch_tokens)
    allowed = np.concatenate([shards.doc(i) for i in ids[:10]])
    assert set(np.unique(two_epochs)) <= set(allowed.tolist()) | {EOS}
    smaller = PackedStream(shards, "train", seed=3, max_tokens=limit - 1)
    assert set(smaller.doc_ids) < set(stream.doc_ids)  # a smaller budget is a subset
    tiny = PackedStream(shards, "train", seed=3, max_tokens=1)
    assert len(tiny.doc_ids) == 1  # at least one document, never an empty stream


@pytest.mark.parametrize("max_tokens", [None, 200])
def test_count_prefix_matches_counting_the_stream(shards, max_tokens):
    """Marked tokens (here: ids below 10) in stream[0:n], from per-document counts, for prefixes that
    end inside a document, on an EOS, at epoch boundaries and several epochs in."""
    stream = PackedStream(shards, "train", seed=5, max_tokens=max_tokens)
    per_doc = np.array([int((shards.doc(i) < 10).sum()) for i in range(len(shards))])
    calls = []

    def in_doc(i, n):
        calls.append((i, n))
        return int((shards.doc(i)[:n] < 10).sum())

    e = stream.epoch_tokens
    flat = stream.read(0, 3 * e + 7)
    for n in [0, 1, 2, 17, e - 1, e, e + 1, 2 * e + 3, 3 * e + 7]:
        calls.clear()
        assert stream.count_prefix(n, per_doc, in_doc) == int((flat[:n] < 10).sum()), n
        assert len(calls) <= 1
