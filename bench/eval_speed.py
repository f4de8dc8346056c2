"""Evaluation speed: scored utterances/s and forward tokens/s vs training tokens/s, same model.

Target (issue 4): forward (scoring) throughput >= 3x the same model's training tokens/s
(forward + backward + AdamW step). Prints one JSON object.
    python bench/eval_speed.py [--preset cpu-1m] [--threads 2] [--utterances 512] [--batch-size 32]
Utterances are random unit sequences with sBLIMP-like lengths (40-160 units: 1-3 s of speech at
50 Hz after dedup), scored with the same code path as `slmscale eval` (eval.loglik).
"""

from __future__ import annotations

import argparse
import json
import platform
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="cpu-1m")
    ap.add_argument("--k", type=int, default=100, help="units (vocab = k + 2)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--utterances", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--train-seq", type=int, default=256)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="best of N timings each (shared machine)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    import torch

    from slmscale.eval.loglik import sequence_loglik
    from slmscale.model.build import build_model
    from slmscale.model.kernels import fuse_rms_norms
    from slmscale.model.presets import resolve_preset

    torch.set_num_threads(args.threads)
    vocab = args.k + 2
    special = {"bos": args.k, "eos": args.k + 1}
    shape = resolve_preset(args.preset)
    model = build_model(shape, vocab, special, max_positions=1024, seed=args.seed)
    fuse_rms_norms(model)  # as both `slmscale train` and `slmscale eval` do
    n_params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(args.seed)
    seqs = [rng.integers(0, args.k, size=rng.integers(40, 161)) for _ in range(args.utterances)]

    # Scoring (inference): warm up once, then time the whole set.
    model.eval()
    sequence_loglik(model, seqs[:args.batch_size], prefix=[args.k + 1], suffix=[args.k + 1],
                    batch_size=args.batch_size)
    score_s = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = sequence_loglik(model, seqs, prefix=[args.k + 1], suffix=[args.k + 1],
                              batch_size=args.batch_size)
        score_s = min(score_s, time.perf_counter() - t0)
    fwd_tokens = int(sum(len(s) + 2 for s in seqs))  # tokens through the model (prefix + content + EOS)

    # Training: forward + backward + AdamW on packed (batch, seq) windows, same model.
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.1)
    batch = torch.as_tensor(rng.integers(0, vocab, size=(args.train_batch, args.train_seq + 1)))

    def step() -> None:
        out = model(input_ids=batch[:, :-1], labels=batch[:, 1:].contiguous(), use_cache=False)
        # HF shifts labels itself; the exact target alignment does not matter for timing.
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    train_s = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.train_steps):
            step()
        train_s = min(train_s, time.perf_counter() - t0)
    train_tokens = args.train_steps * args.train_batch * args.train_seq

    fwd_tps = fwd_tokens / score_s
    train_tps = train_tokens / train_s
    print(json.dumps({
        "bench": "eval_speed", "machine": f"{platform.machine()} {args.threads} threads (shared CPU)",
        "preset": args.preset, "params_total": n_params, "vocab": vocab,
        "utterances": args.utterances, "batch_size": args.batch_size, "repeats": args.repeats,
        "utterances_per_s": round(args.utterances / score_s, 1),
        "forward_tokens_per_s": round(fwd_tps), "train_tokens_per_s": round(train_tps),
        "forward_over_train": round(fwd_tps / train_tps, 2), "target_ratio": 3.0,
        "meets_target": fwd_tps / train_tps >= 3.0, "mean_score": float(np.mean(res.scores())),
    }))


if __name__ == "__main__":
    main()
