"""Summaries of a shards directory: counts, splits, audio rate, token usage, checksum check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slmscale.data.shards import Shards


def content_size(shards: Shards) -> int:
    """Number of content ids (the vocabulary minus special tokens)."""
    meta = shards.meta
    if meta.get("modality") == "units" and "k" in meta.get("tokenizer", {}):
        return int(meta["tokenizer"]["k"])
    if meta.get("modality") == "unigram" and "pieces" in meta:
        return int(meta["pieces"])
    return shards.vocab_size - len(shards.special_tokens)


def token_counts(shards: Shards, block: int = 1 << 24) -> np.ndarray:
    """Occurrences of every id 0..vocab_size-1, read from the memory-mapped tokens in blocks."""
    counts = np.zeros(shards.vocab_size, dtype=np.int64)
    for start in range(0, len(shards.tokens), block):
        chunk = shards.check_ids(np.asarray(shards.tokens[start:start + block]), f"positions {start}..")
        counts += np.bincount(chunk, minlength=shards.vocab_size)
    return counts


def verify_checksums(shards: Shards) -> dict[str, bool]:
    return shards.checksum_report()


def verify_problems(summary: dict[str, Any]) -> list[str]:
    """What `--verify` found wrong in a summary (empty when the shards check out)."""
    problems = [f"{name} differs from its sha256 in meta.json"
                for name, ok in summary.get("checksums_ok", {}).items() if not ok]
    if summary.get("bad_token_position") is not None:
        problems.append(f"token id outside the vocabulary at position {summary['bad_token_position']}")
    return problems


def summarize(path: str | Path, verify: bool = False) -> dict[str, Any]:
    shards = Shards(path)
    meta = shards.meta
    k = content_size(shards)
    counts = token_counts(shards)[:k]
    total = int(counts.sum())
    p = counts[counts > 0] / max(total, 1)
    entropy = float(-(p * np.log2(p)).sum()) if total else 0.0
    top = np.argsort(-counts, kind="stable")[:10]
    out: dict[str, Any] = {
        "path": str(shards.path.resolve()), "modality": meta.get("modality"), "vocab_size": shards.vocab_size,
        "special_tokens": shards.special_tokens, "dtype": meta.get("dtype"), "documents": len(shards),
        "tokens": int(meta["tokens"]), "splits": meta.get("splits", {}),
        "audio_hours": meta.get("audio_hours"), "tokens_per_second": meta.get("tokens_per_second"),
        "has_durations": bool(meta.get("has_durations")), "tokenizer": meta.get("tokenizer", {}),
        "usage": {"content_ids": k, "used": int((counts > 0).sum()),
                  "fraction": float((counts > 0).mean()) if k else 0.0,
                  "entropy_bits": entropy, "perplexity": float(2 ** entropy),
                  "top": [[int(i), int(counts[i])] for i in top if counts[i] > 0]},
        "counts": counts.tolist(),
        "skipped": meta.get("skipped", []),
    }
    if "compression_ratio" in meta:
        out["compression_ratio"] = meta["compression_ratio"]
    if shards.durations_flat is not None and total:
        out["mean_duration_frames"] = float(np.asarray(shards.durations_flat, dtype=np.float64).mean())
    if verify:
        out["checksums_ok"] = verify_checksums(shards)
        out["bad_token_position"] = shards.bad_token_position()
    return out


def rank_buckets(counts: np.ndarray, n_buckets: int = 20) -> list[tuple[int, int, float]]:
    """(first rank, last rank, share of tokens) for ids ranked by frequency, in equal-size groups."""
    ranked = np.sort(np.asarray(counts))[::-1]
    total = max(int(ranked.sum()), 1)
    edges = np.linspace(0, len(ranked), min(n_buckets, len(ranked)) + 1).astype(int)
    return [(int(a) + 1, int(b), float(ranked[a:b].sum() / total)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
