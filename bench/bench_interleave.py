"""Throughput of interleaved-shard building (and vocabulary extension) on synthetic data; prints JSON.

Usage: python bench/bench_interleave.py [--utterances N] [--words W]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utterances", type=int, default=2000)
    ap.add_argument("--words", type=int, default=40)
    ap.add_argument("--k", type=int, default=500)
    args = ap.parse_args()

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmscale.data.interleave import UnitTable, build_interleaved_shards
    from slmscale.data.manifest import ManifestEntry, write_manifest
    from slmscale.model.extend import extend_vocabulary
    from slmscale.text.bpe import train_bpe

    rng = np.random.default_rng(0)
    lexicon = [f"word{i}" for i in range(300)]
    entries, units = [], {}
    for i in range(args.utterances):
        t, words = 0.1, []
        for w in rng.choice(lexicon, args.words):
            d = float(rng.uniform(0.15, 0.5))
            words.append((str(w), t, t + d))
            t += d + 0.03
        frames = int((t + 0.2) * 50)
        durs = rng.integers(1, 5, frames // 2)
        uid = f"u{i:06d}"
        units[uid] = (rng.integers(0, args.k, len(durs)), durs)
        entries.append(ManifestEntry(id=uid, audio=f"{uid}.wav", duration=t + 0.2, sample_rate=16000,
                                     text=" ".join(w for w, _, _ in words), words=words,
                                     split="valid" if i % 20 == 0 else "train"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_manifest(tmp / "m.jsonl", entries)
        t0 = time.perf_counter()
        tok = train_bpe([e.text for e in entries], tmp / "lm", vocab_size=1000)
        t_bpe = time.perf_counter() - t0
        torch.manual_seed(0)
        LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                                     num_hidden_layers=2, num_attention_heads=4)).save_pretrained(str(tmp / "lm"))
        t0 = time.perf_counter()
        extend_vocabulary(tmp / "lm", tmp / "ext", args.k)
        t_ext = time.perf_counter() - t0
        t0 = time.perf_counter()
        meta = build_interleaved_shards(tmp / "m.jsonl", UnitTable(units, args.k, 50.0), tmp / "ext", tmp / "sh")
        t_build = time.perf_counter() - t0
    print(json.dumps({
        "bench": "interleave", "utterances": args.utterances, "words_per_utterance": args.words,
        "bpe_train_s": round(t_bpe, 3), "extend_s": round(t_ext, 3), "build_s": round(t_build, 3),
        "utterances_per_s": round(args.utterances / t_build, 1), "tokens_written": meta["tokens"],
        "tokens_per_s": round(meta["tokens"] / t_build), "speech_token_share": round(meta["speech_token_share"], 4),
        "speech_word_share": round(meta["speech_word_share"], 4),
        "stream_share_train": {k: round(v, 4) for k, v in meta["streams"]["train"]["stream_share"].items()},
    }, indent=1))


if __name__ == "__main__":
    main()
