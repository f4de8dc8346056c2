"""Batched sequence log-likelihood under a Hugging Face causal LM.

Each scored sequence is `prefix + content + suffix`:
- `prefix` gives the first content token a context. evaluate_run uses the model's BOS id when its
  vocabulary has one, else its EOS id (the separator the training loader puts between documents),
  so every content token is scored. With an empty prefix the first content token has no context
  and is not scored.
- `suffix` is normally `[EOS]`: scoring it asks "does the utterance end here?", which matters for
  sWUGGY (a non-word is often a plausible prefix of a word). It is counted as one scored token.
- `contexts` (optional, one per sequence) sit between the prefix and the content and are not
  scored: the conditioning part of a cross-modal item (a story's context before its ending).
Score of a sequence: the sum of log p(token | previous) over scored tokens (`normalize="sum"`), or
that sum divided by the number of scored tokens (`"mean"`, the default). A sequence longer than
`max_length` is either scored with a sliding window (`slide=True`: every scored token still is,
in windows of `max_length` tokens whose scored spans are `max_length // 2` long and tile the
sequence, so each token sees at least half a context of the tokens before it), or cut: it loses
tokens from the left of its context first, then of its content; the prefix and the suffix stay.

Sequences are sorted by length and cut into batches (at most `batch_size` sequences and
`max_batch_tokens` padded tokens), right-padded; a padding mask selects the scored positions.
With causal attention a right pad can only be attended to by later (pad) positions, so real
positions are unchanged whether or not the mask is also given to the model; by default it is not
(`model_mask=False`), which lets SDPA take its causal fast path (about 1.5x faster on CPU).
`allowed_tokens` restricts the softmax to a subset of the vocabulary (speech tokens + EOS for
interleaved speech-text models); the prefix is context only and may lie outside the subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from slmscale.errors import UserError
from slmscale.eval.protocols import TRUNCATION
from slmscale.progress import info

NORMALIZE = ("mean", "sum")


@dataclass
class Loglik:
    """Per-sequence results, in input order."""

    total: np.ndarray  # sum of log-probabilities over scored tokens (float64)
    count: np.ndarray  # number of scored tokens (int64)
    truncated: int = 0  # sequences longer than the model's context (slid over, or cut from the left)

    def scores(self, normalize: str = "mean") -> np.ndarray:
        if normalize == "sum":
            return self.total.copy()
        if normalize == "mean":
            return self.total / np.maximum(self.count, 1)
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")


def make_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None = None
                 ) -> list[list[int]]:
    """Group indices longest-first so each batch holds similar lengths (little padding)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        width = lengths[cur[0]] if cur else lengths[i]  # first item is the longest in the batch
        too_many = len(cur) >= batch_size
        too_big = max_batch_tokens is not None and cur and width * (len(cur) + 1) > max_batch_tokens
        if cur and (too_many or too_big):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def sequence_loglik(model: Any, sequences: Sequence[Sequence[int]], *, prefix: Sequence[int] = (),
                    suffix: Sequence[int] = (), contexts: Sequence[Sequence[int]] | None = None,
                    batch_size: int = 64,
                    max_batch_tokens: int | None = 16384, allowed_tokens: Sequence[int] | None = None,
                    max_length: int | None = None, pad_id: int = 0, progress: str | None = None,
                    model_mask: bool = False, slide: bool = False) -> Loglik:
    """Log-likelihood of every sequence (see module doc). `model` is a causal LM in eval mode."""
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    device = next(model.parameters()).device
    vocab = int(model.get_output_embeddings().weight.shape[0])
    prefix, suffix = list(prefix), list(suffix)
    if contexts is not None and len(contexts) != len(sequences):
        raise ValueError("contexts must have one entry per sequence")
    full: list[list[int]] = []  # the model inputs: one per sequence, or one per window when sliding
    starts: list[int] = []  # first scored position of each input
    owner: list[int] = []  # the sequence each input belongs to
    truncated = 0
    for n_seq, seq in enumerate(sequences):
        content = [int(t) for t in seq]
        context = [int(t) for t in contexts[n_seq]] if contexts is not None else []
        whole = prefix + context + content + suffix
        if max_length is not None and len(whole) > max_length:
            truncated += 1
            if slide:
                for window, start in sliding_windows(whole, max(len(prefix) + len(context), 1), max_length):
                    full.append(window)
                    starts.append(start)
                    owner.append(n_seq)
                continue
            # Keep the end: StoryCloze endings decide the task; a context is cut before its ending.
            context = context[min(len(whole) - max_length, len(context)):]
            if len(prefix) + len(content) + len(suffix) > max_length:
                content = content[-max(max_length - len(prefix) - len(suffix), 1):]
            whole = prefix + context + content + suffix
        full.append(whole)
        starts.append(max(len(prefix) + len(context), 1))
        owner.append(n_seq)
    for seq in full:
        if seq and (min(seq) < 0 or max(seq) >= vocab):
            raise ValueError(f"token id out of range [0, {vocab}) in a scored sequence")

    lookup = None
    if allowed_tokens is not None:
        allowed = torch.as_tensor(sorted(set(int(t) for t in allowed_tokens)), dtype=torch.long)
        lookup = torch.full((vocab,), -1, dtype=torch.long)
        lookup[allowed] = torch.arange(len(allowed))
        allowed = allowed.to(device)
        lookup = lookup.to(device)

    total = np.zeros(len(sequences), dtype=np.float64)
    count = np.zeros(len(sequences), dtype=np.int64)
    owners = np.asarray(owner, dtype=np.int64)
    lengths = [len(s) for s in full]
    batches = make_batches(lengths, batch_size, max_batch_tokens)
    if progress:
        from slmscale.progress import track

        batches_iter = track(batches, progress, unit="batch")
    else:
        batches_iter = batches
    with torch.inference_mode():
        for batch in batches_iter:
            width = max(lengths[i] for i in batch)
            first_scored = min(starts[i] for i in batch)  # target positions start here
            if width <= first_scored:
                continue  # nothing to score (empty content, no prefix)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)  # real tokens
            scored = torch.zeros((len(batch), width), dtype=torch.long)  # real tokens to score
            for row, i in enumerate(batch):
                ids[row, :lengths[i]] = torch.as_tensor(full[i])
                mask[row, :lengths[i]] = 1
                scored[row, starts[i]:lengths[i]] = 1
            ids, mask, scored = ids.to(device), mask.to(device), scored.to(device)
            out = model(input_ids=ids, attention_mask=mask if model_mask else None, use_cache=False)
            logits = out.logits[:, first_scored - 1:-1].float()
            targets = ids[:, first_scored:]
            if lookup is not None:
                logits = logits.index_select(-1, allowed)
                targets = lookup[targets]
                bad = (targets < 0) & scored[:, first_scored:].bool()
                if bad.any():
                    raise ValueError("a scored token lies outside allowed_tokens")
                targets = targets.clamp_min(0)
            logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
            valid = scored[:, first_scored:].to(logp.dtype)
            sums = (logp * valid).sum(-1).double().cpu().numpy()
            counts = valid.sum(-1).long().cpu().numpy()
            np.add.at(total, owners[batch], sums)  # a sequence's windows add up
            np.add.at(count, owners[batch], counts)
    return Loglik(total=total, count=count, truncated=truncated)


def sliding_windows(seq: list[int], start: int, max_length: int) -> list[tuple[list[int], int]]:
    """(window, first scored position in it) pairs whose scored spans tile seq[start:]: the first
    window is seq[:max_length]; each later one scores the next max_length // 2 tokens after the
    tokens before them, so no scored token has fewer than max_length // 2 tokens of context
    (or all of them, near the start)."""
    if max_length < 2:
        raise ValueError("a sliding window needs max_length >= 2")
    stride = max_length // 2
    out = []
    a = start
    while a < len(seq):
        b = min(len(seq), max_length if a < max_length else a + stride)
        lo = max(0, b - max_length)
        out.append((seq[lo:b], a - lo))
        a = b
    return out


def check_lengths(task: str, lengths: list[int], max_len: int | None, truncation: str) -> None:
    """Items longer than the model's context: refuse (`truncation="refuse"`), or say that they are
    scored with a sliding window (`"slide"`), or say loudly that they lose tokens from the left
    (`"cut"`: a StoryCloze context is cut before its ending)."""
    if truncation not in TRUNCATION:
        raise UserError(f"--truncation must be one of {', '.join(TRUNCATION)}, got {truncation!r}")
    if max_len is None:
        return
    long = [n for n in lengths if n > max_len]
    if not long:
        return
    what = (f"{task}: {len(long)} of {len(lengths)} item(s) are longer than the model's context "
            f"({max(long)} > {max_len} tokens)")
    if truncation == "refuse":
        raise UserError(f"{what}; train with a longer seq_len, or pass --truncation slide to score them "
                        "with a sliding window")
    if truncation == "slide":
        info(f"{what}; scored with a sliding window of {max_len} tokens, each token with at least "
             f"{max(max_len // 2, 1)} before it (recorded as truncated_items in scores.json)")
        return
    info(f"warning: {what}; their oldest tokens are cut (recorded as truncated_items in scores.json)")
