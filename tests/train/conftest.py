"""Tiny shards and configs for the training tests (built here, no other stage needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slmscale.config import set_dotted
from slmscale.data.shards import ShardWriter

VOCAB = 48  # 46 units + bos + eos


def write_shards(out: Path, seed: int = 0, n_train: int = 120, n_valid: int = 12) -> Path:
    """Patterned unit documents (noisy arithmetic runs) that a small model can learn."""
    rng = np.random.default_rng(seed)
    k = VOCAB - 2
    w = ShardWriter(out, VOCAB, {"bos": k, "eos": k + 1}, "units",
                    {"kind": "units", "path": "/nonexistent/tok", "k": k, "dedup": True, "frame_rate": 25.0,
                     "fingerprint": "test"})
    for i in range(n_train + n_valid):
        n = int(rng.integers(10, 80))
        toks = (int(rng.integers(0, k)) + int(rng.integers(1, 4)) * np.arange(n)) % k
        noise = rng.random(n) < 0.1
        toks[noise] = rng.integers(0, k, int(noise.sum()))
        w.add(toks, f"doc{i}", split="valid" if i < n_valid else "train", voice="v", source=f"s{i}")
    w.close({"test": seed})
    return out


@pytest.fixture(scope="session")
def shards_dir(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "sh")


def tiny_config(shards: Path, out: Path, **over) -> dict:
    cfg = {
        "seed": 0,
        "out": str(out),
        "data": {"shards": str(shards)},
        "model": {"preset": None, "n_layers": 1, "d_model": 32, "n_heads": 2, "ffn": 64},
        "budget": {"tokens": 32 * 4 * 12},
        "train": {"seq_len": 32, "batch_tokens": 128, "lr": 3e-3, "threads": 1, "peak_flops": 1e10},
        "eval": {"max_tokens": 512},
        "log": {"interval_steps": 2},
        "checkpoint": {"interval_steps": 3, "keep": 2},
    }
    for key, val in over.items():
        set_dotted(cfg, key, val)
    return cfg


@pytest.fixture(scope="session")
def make_config():
    """tiny_config(shards, out, **{"dotted.key": value}) -> config dict."""
    return tiny_config


@pytest.fixture(scope="session")
def train_config():
    """Like make_config, validated into a TrainConfig."""
    from slmscale.config import validate
    from slmscale.train.config import TrainConfig

    return lambda shards, out, **over: validate(TrainConfig, tiny_config(shards, out, **over))
