"""Benchmark items tokenised once per encoder and cached (safetensors + JSON, no pickle).

Cache file: `<cache_dir>/<encoder key[:16]>/<task>-<split>-<content[:16]>.safetensors` holding
`tokens` (all items back to back, int64) and `offsets` (n + 1), with the item keys and the list of
unreadable items in its metadata. `content` hashes the benchmark's item keys and each wav's size and
modification time (or each text), so a rebuilt benchmark is re-tokenised. The default cache_dir is
`.slmscale-cache/` inside the benchmark folder, or `~/.cache/slmscale/eval` when that is read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from slmscale.artifacts import atomic_write_bytes, sha256_json
from slmscale.eval.encoders import Encoder
from slmscale.eval.formats import Benchmark
from slmscale.locks import is_held, waiting
from slmscale.progress import info, track

CACHE_NAME = ".slmscale-cache"


def default_cache_dir(bench_root: Path) -> Path:
    root = bench_root if bench_root.is_dir() else bench_root.parent
    if os.access(root, os.W_OK):
        return root / CACHE_NAME
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slmscale" / "eval"


def content_hash(bench: Benchmark) -> str:
    if bench.modality == "text":
        return sha256_json(sorted(bench.texts.items()))
    stats = []
    for key in bench.keys:
        st = bench.audio[key].stat()
        stats.append((key, st.st_size, st.st_mtime_ns))
    return sha256_json(stats)


def cache_path(bench: Benchmark, encoder: Encoder, cache_dir: Path) -> Path:
    return cache_dir / encoder.key[:16] / f"{bench.task}-{bench.split}-{content_hash(bench)[:16]}.safetensors"


def _save(path: Path, tokens: dict[str, np.ndarray], failed: list[str]) -> None:
    from safetensors.numpy import save

    keys = sorted(tokens)
    lengths = np.array([len(tokens[k]) for k in keys], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([tokens[k] for k in keys]).astype(np.int64) if keys else np.zeros(0, np.int64)
    meta = {"keys": json.dumps(keys), "failed": json.dumps(sorted(failed))}
    atomic_write_bytes(path, save({"tokens": flat, "offsets": offsets}, metadata=meta))


def _load(path: Path) -> tuple[dict[str, np.ndarray], list[str]] | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as fh:
            meta = fh.metadata()
            flat, offsets = fh.get_tensor("tokens"), fh.get_tensor("offsets")
        keys = json.loads(meta["keys"])
        failed = json.loads(meta["failed"])
    except Exception:  # a damaged cache file is recomputed, never trusted
        return None
    if len(offsets) != len(keys) + 1:
        return None
    return {k: flat[offsets[i]:offsets[i + 1]] for i, k in enumerate(keys)}, failed


def encode_benchmark(bench: Benchmark, encoder: Encoder, cache_dir: str | Path | None = None
                     ) -> tuple[dict[str, np.ndarray], list[str], bool]:
    """Tokens per item key (in the model's vocabulary: the encoder's `shift` added), keys that
    failed to encode, and whether the cache served them."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(bench.source.parent)
    path = cache_path(bench, encoder, cache_dir)
    shift = int(getattr(encoder, "shift", 0))
    hit = _load(path) if path.is_file() else None
    if hit is not None:
        return _shifted(hit[0], shift), hit[1], True
    with contextlib.ExitStack() as held:
        # One process fills a cache file; evals of other runs sharing the tokenizer (a study's
        # seeds, scored in parallel) wait for it and read it instead of tokenising again.
        lock = path.with_suffix(".lock")
        try:
            if is_held(lock):
                info(f"{bench.task}: waiting for another eval tokenising this benchmark ({lock})")
            held.enter_context(waiting(lock))
        except OSError:
            pass  # an unwritable cache folder: no lock, and no cache either
        hit = _load(path) if path.is_file() else None
        if hit is not None:
            return _shifted(hit[0], shift), hit[1], True
        tokens, failed = _tokenise(bench, encoder)
        try:
            _save(path, tokens, failed)
        except OSError:
            pass  # an unwritable cache only costs time
    return _shifted(tokens, shift), failed, False


def _tokenise(bench: Benchmark, encoder: Encoder) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every item's tokens (encoder ids, no shift) and the keys that failed to encode."""
    keys = bench.keys
    items = [bench.texts[k] for k in keys] if bench.modality == "text" else [bench.audio[k] for k in keys]
    tokens: dict[str, np.ndarray] = {}
    failed: list[str] = []
    prepare = getattr(encoder, "prepare_voices", None)
    if prepare is not None and bench.modality == "audio":
        voice_of = bench.voice_of()
        prepare([bench.audio[k] for k in keys], [voice_of.get(k, "") for k in keys], keys)
    chunk = 64
    for start in track(range(0, len(keys), chunk), f"tokenising {bench.task}",
                       total=(len(keys) + chunk - 1) // chunk, unit="chunk"):
        encoded = encoder.encode(items[start:start + chunk])
        for key, ids in zip(keys[start:start + chunk], encoded):
            if ids is None:
                failed.append(key)
            else:
                tokens[key] = np.asarray(ids, dtype=np.int64)
    return tokens, failed


def _shifted(tokens: dict[str, np.ndarray], shift: int) -> dict[str, np.ndarray]:
    return {k: v + shift for k, v in tokens.items()} if shift else tokens
