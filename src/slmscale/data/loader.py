"""Packed, deterministic, resumable batches from token shards.

Training documents (one split) are shuffled per epoch with a seed, each followed by EOS, and
concatenated into one endless token stream (epoch after epoch). Sequence k of length T is the
window stream[k·T : k·T + T + 1] (inputs = first T, targets = last T). A global batch of B
sequences at step s is therefore one contiguous slice of the stream, and a rank's share of it
is a contiguous sub-slice: any batch is a pure function of (seed, step), which makes resuming
exact (the data position is just the step) and DDP sharding trivial.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from slmscale.data.shards import Shards
from slmscale.errors import UserError


class PackedStream:
    """The shuffled, EOS-separated, epoch-repeating token stream of one split."""

    def __init__(self, shards: Shards, split: str = "train", seed: int = 0, shuffle: bool = True,
                 max_tokens: int | None = None):
        self.shards = shards
        self.seed = int(seed)
        self.shuffle = shuffle
        self.eos = shards.eos_id
        self.doc_ids = shards.indices(split)
        if len(self.doc_ids) == 0 or shards.lengths[self.doc_ids].sum() == 0:
            raise UserError(f"{shards.path}: no '{split}' tokens to train on; "
                            "check data.train_split or rebuild the shards")
        if max_tokens is not None:
            # A prefix in stored order, so smaller unique-data budgets are nested subsets of larger ones.
            keep = max(1, int(np.searchsorted(np.cumsum(shards.lengths[self.doc_ids]), max_tokens, side="right")))
            self.doc_ids = self.doc_ids[:keep]
        # One epoch: every document plus its EOS separator.
        self.epoch_tokens = int(shards.lengths[self.doc_ids].sum() + len(self.doc_ids))
        self._order = lru_cache(maxsize=4)(self._epoch_order)

    def _epoch_order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Documents of `epoch` in stream order, and each one's end offset within the epoch."""
        docs = self.doc_ids
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch])
            docs = docs[rng.permutation(len(docs))]
        ends = np.cumsum(self.shards.lengths[docs] + 1)
        return docs, ends

    def read(self, start: int, length: int) -> np.ndarray:
        """Tokens stream[start : start + length] as int64."""
        out = np.empty(length, dtype=np.int64)
        filled = 0
        tokens, offsets, lengths = self.shards.tokens, self.shards.offsets, self.shards.lengths
        while filled < length:
            pos = start + filled
            epoch, within = divmod(pos, self.epoch_tokens)
            docs, ends = self._order(epoch)
            i = int(np.searchsorted(ends, within, side="right"))
            while i < len(docs) and filled < length:
                doc_start = ends[i] - lengths[docs[i]] - 1
                a = within - doc_start  # position inside "document + EOS"
                n_doc = int(lengths[docs[i]])
                if a < n_doc:
                    take = min(n_doc - a, length - filled)
                    o = offsets[docs[i]] + a
                    out[filled:filled + take] = tokens[o:o + take]
                    filled += take
                    within += take
                    a += take
                if a == n_doc and filled < length:
                    out[filled] = self.eos
                    filled += 1
                    within += 1
                i += 1
        return self.shards.check_ids(out, f"stream positions {start}..{start + length}")


    def count_prefix(self, length: int, per_doc: np.ndarray, in_doc: Callable[[int, int], int]) -> int:
        """How many of stream[0 : length] are "marked" tokens, exactly, without reading the stream.

        `per_doc[i]` is the number of marked tokens in shards document i (EOS separators are never
        marked); `in_doc(i, n)` counts them in the first n tokens of document i (called at most
        once, for the document the prefix ends in). Used for the speech-token share of a run."""
        full, rest = divmod(int(length), self.epoch_tokens)
        total = full * int(per_doc[self.doc_ids].sum())
        if rest:
            docs, ends = self._order(full)
            i = int(np.searchsorted(ends, rest, side="right"))
            total += int(per_doc[docs[:i]].sum())
            if i < len(docs):
                start = int(ends[i] - self.shards.lengths[docs[i]] - 1)
                n = min(rest - start, int(self.shards.lengths[docs[i]]))
                if n > 0:
                    total += int(in_doc(int(docs[i]), n))
        return total


class TrainBatches:
    """Global batch `step` -> (inputs, targets) for one rank, as int64 arrays [b, T]."""

    def __init__(self, stream: PackedStream, seq_len: int, global_batch: int, rank: int = 0,
                 world_size: int = 1):
        if global_batch % world_size:
            raise UserError(f"global batch of {global_batch} sequences does not split over "
                            f"{world_size} processes; change train.batch_tokens")
        self.stream, self.seq_len, self.global_batch = stream, int(seq_len), int(global_batch)
        self.rank, self.world_size = rank, world_size
        self.local_batch = global_batch // world_size

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        t, b = self.seq_len, self.local_batch
        first_seq = step * self.global_batch + self.rank * b
        flat = self.stream.read(first_seq * t, b * t + 1)
        x = flat[:-1].reshape(b, t)
        y = flat[1:].reshape(b, t)
        return x, y

    def epochs(self, steps: int) -> float:
        """Passes over the training split after `steps` steps (counting predicted tokens)."""
        return steps * self.global_batch * self.seq_len / self.stream.epoch_tokens


def validation_sequences(shards: Shards, split: str, seq_len: int, max_tokens: int | None) -> np.ndarray:
    """The fixed held-out set: `split` documents in stored order, EOS-separated, cut into windows.

    Returns int64 [n, T+1] (inputs are [:, :-1], targets [:, 1:]); a corpus shorter than one
    window gives a single shorter window. Identical for every run on the same shards.
    """
    ids = shards.indices(split)
    if len(ids) == 0 or shards.lengths[ids].sum() == 0:
        raise UserError(f"{shards.path}: no '{split}' documents for the held-out loss; "
                        "make shards with a validation split or set data.valid_split")
    stream = PackedStream(shards, split, shuffle=False)
    total = stream.epoch_tokens
    if max_tokens is not None:
        total = min(total, int(max_tokens) + 1)
    if total <= seq_len:
        return stream.read(0, total)[None, :]
    n = (total - 1) // seq_len
    flat = stream.read(0, n * seq_len + 1)
    idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return flat[idx]
