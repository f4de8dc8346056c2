"""Batched log-likelihood against a one-by-one reference on a tiny random Llama."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slmscale.eval.loglik import make_batches, sequence_loglik


def reference(model, seq, prefix=(), suffix=(), allowed=None):
    """Plain per-token loop, no padding, no batching."""
    ids = list(prefix) + list(seq) + list(suffix)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    targets = ids
    if allowed is not None:  # the prefix is context only; targets must lie in the subset
        allowed = sorted(allowed)
        logits = logits[:, allowed]
        targets = [allowed.index(t) if t in allowed else -1 for t in ids]
    logp = torch.log_softmax(logits, -1)
    start = max(len(prefix), 1)
    vals = [logp[t - 1, targets[t]].item() for t in range(start, len(ids))]
    return sum(vals), len(vals)


def random_seqs(n, seed=0, lo=1, hi=30, vocab=48):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=rng.integers(lo, hi)).tolist() for _ in range(n)]


def test_make_batches_groups_by_length_and_respects_caps():
    lengths = [3, 10, 5, 9, 1, 10]
    batches = make_batches(lengths, batch_size=2)
    assert batches == [[1, 5], [3, 2], [0, 4]]
    # token cap: width 10, so at most 2 rows of 10 fit into 25 tokens
    assert make_batches(lengths, batch_size=8, max_batch_tokens=25) == [[1, 5], [3, 2], [0, 4]]
    assert sorted(sum(make_batches(lengths, 4, 1), [])) == list(range(6))  # never drops items


def test_batched_equals_one_by_one(llama):
    seqs = random_seqs(13)
    res = sequence_loglik(llama, seqs, prefix=[48], suffix=[49], batch_size=4)
    for i, s in enumerate(seqs):
        tot, cnt = reference(llama, s, [48], [49])
        assert res.count[i] == cnt == len(s) + 1
        assert res.total[i] == pytest.approx(tot, abs=1e-4)


def test_mean_and_sum(llama):
    seqs = random_seqs(5, seed=1)
    res = sequence_loglik(llama, seqs, prefix=[48])
    np.testing.assert_allclose(res.scores("sum"), res.total)
    np.testing.assert_allclose(res.scores("mean"), res.total / np.array([len(s) for s in seqs]))
    with pytest.raises(ValueError):
        res.scores("max")


def test_padding_and_batch_composition_do_not_change_scores(llama):
    short = [5, 6, 7]
    alone = sequence_loglik(llama, [short], prefix=[48]).total[0]
    with_long = sequence_loglik(llama, [short, list(range(40))], prefix=[48], batch_size=2).total[0]
    assert alone == pytest.approx(with_long, abs=1e-5)
    # batch size 1 vs 16 on a mixed set
    seqs = random_seqs(10, seed=2)
    a = sequence_loglik(llama, seqs, prefix=[48], batch_size=1).total
    b = sequence_loglik(llama, seqs, prefix=[48], batch_size=16).total
    np.testing.assert_allclose(a, b, atol=1e-4)
    # giving the padding mask to the model changes nothing for right padding
    c = sequence_loglik(llama, seqs, prefix=[48], batch_size=16, model_mask=True).total
    np.testing.assert_allclose(b, c, atol=1e-5)


def test_no_prefix_skips_first_token(llama):
    seq = [3, 4, 5, 6]
    res = sequence_loglik(llama, [seq])
    tot, cnt = reference(llama, seq)
    assert res.count[0] == cnt == 3
    assert res.total[0] == pytest.approx(tot, abs=1e-5)


def test_restricted_logits_renormalise_over_subset(llama):
    allowed = list(range(0, 20)) + [49]
    seqs = random_seqs(6, seed=3, vocab=20)
    res = sequence_loglik(llama, seqs, prefix=[48], suffix=[49], allowed_tokens=allowed, batch_size=3)
    full = sequence_loglik(llama, seqs, prefix=[48], suffix=[49])
    for i, s in enumerate(seqs):
        tot, _ = reference(llama, s, [48], [49], allowed=allowed)
        assert res.total[i] == pytest.approx(tot, abs=1e-4)
    assert np.all(res.total > full.total)  # less mass competing -> higher likelihood
    with pytest.raises(ValueError, match="allowed_tokens"):
        sequence_loglik(llama, [[30]], prefix=[48], allowed_tokens=allowed)


def test_truncation_keeps_the_end(llama):
    seq = list(range(1, 40))
    res = sequence_loglik(llama, [seq], prefix=[48], suffix=[49], max_length=12)
    assert res.truncated == 1 and res.count[0] == 11
    tot, _ = reference(llama, seq[-10:], [48], [49])
    assert res.total[0] == pytest.approx(tot, abs=1e-5)


def test_out_of_range_ids_fail(llama):
    with pytest.raises(ValueError, match="out of range"):
        sequence_loglik(llama, [[1, 2, 50]])


def test_contexts_condition_but_are_not_scored(llama):
    seqs = random_seqs(7, seed=4, lo=1, hi=10)
    ctxs = random_seqs(7, seed=5, lo=0, hi=20)
    res = sequence_loglik(llama, seqs, prefix=[48], contexts=ctxs, suffix=[49], batch_size=3)
    for i, (s, c) in enumerate(zip(seqs, ctxs)):
        tot, cnt = reference(llama, s, [48] + c, [49])
        assert res.count[i] == cnt == len(s) + 1
        assert res.total[i] == pytest.approx(tot, abs=1e-4)
    # restricted: context tokens may lie outside the subset, scored ones may not
    allowed = list(range(0, 20)) + [49]
    small = random_seqs(4, seed=6, vocab=20)
    res = sequence_loglik(llama, small, prefix=[48], contexts=[[30, 40, 45]] * 4, suffix=[49],
                          allowed_tokens=allowed)
    for i, s in enumerate(small):
        assert res.total[i] == pytest.approx(reference(llama, s, [48, 30, 40, 45], [49], allowed)[0], abs=1e-4)
    with pytest.raises(ValueError, match="one entry per sequence"):
        sequence_loglik(llama, seqs, contexts=ctxs[:2])


def test_truncation_cuts_the_context_first(llama):
    ending, context = [1, 2, 3, 4], list(range(10, 40))
    res = sequence_loglik(llama, [ending], prefix=[48], contexts=[context], suffix=[49], max_length=12)
    assert res.truncated == 1 and res.count[0] == 5  # the whole ending and EOS are still scored
    tot, _ = reference(llama, ending, [48] + context[-6:], [49])
    assert res.total[0] == pytest.approx(tot, abs=1e-5)


def windowed_reference(model, ids, start, max_length):
    """Each scored token t conditioned on ids[max(0, w_end - max_length):t], for the window the
    strided scheme puts it in: the first window is ids[:L] when scoring starts inside it; after it
    (or from `start`), spans of L // 2 tokens, each after the L // 2 tokens before it."""
    total, n, stride = 0.0, 0, max_length // 2
    base = max_length if start < max_length else start
    for t in range(start, len(ids)):
        if t < base:
            lo = 0
        else:  # t lies in the span [a, a + stride) that starts at base + k * stride
            a = base + ((t - base) // stride) * stride
            lo = min(a + stride, len(ids)) - max_length
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids[lo:t]])).logits[0, -1].double()
        total += torch.log_softmax(logits, -1)[ids[t]].item()
        n += 1
    return total, n


def test_sliding_window_scores_every_token_with_half_a_context(llama):
    seqs = [list(range(1, 40)), random_seqs(1, seed=9, lo=25, hi=26)[0], [5, 6, 7]]
    res = sequence_loglik(llama, seqs, prefix=[48], suffix=[49], max_length=12, slide=True, batch_size=2)
    assert res.truncated == 2  # the 3-token item fits and is scored whole
    for i, seq in enumerate(seqs):
        ids = [48] + seq + [49]
        tot, cnt = windowed_reference(llama, ids, 1, 12)
        assert res.count[i] == cnt == len(seq) + 1  # every content token and the EOS
        assert res.total[i] == pytest.approx(tot, abs=1e-4)
    short = sequence_loglik(llama, seqs[2:], prefix=[48], suffix=[49], max_length=12)
    assert res.total[2] == pytest.approx(short.total[0], abs=1e-6)


def test_sliding_window_leaves_contexts_unscored(llama):
    ending, context = [1, 2, 3, 4, 5, 6, 7, 8, 9], list(range(10, 40))
    res = sequence_loglik(llama, [ending], prefix=[48], contexts=[context], suffix=[49], max_length=12, slide=True)
    ids = [48] + context + ending + [49]
    tot, cnt = windowed_reference(llama, ids, 1 + len(context), 12)
    assert res.truncated == 1 and res.count[0] == cnt == len(ending) + 1
    assert res.total[0] == pytest.approx(tot, abs=1e-4)


def test_sliding_windows_tile_the_scored_span():
    from slmscale.eval.loglik import sliding_windows

    seq = list(range(100))
    for start, L in ((1, 8), (1, 7), (30, 8), (99, 10), (5, 2)):
        scored = []
        for window, first in sliding_windows(seq, start, L):
            assert len(window) <= L and first >= 1 and (first >= L // 2 or window[0] == 0)
            scored += window[first:]
        assert scored == seq[start:]
    with pytest.raises(ValueError, match="max_length >= 2"):
        sliding_windows(seq, 1, 1)
