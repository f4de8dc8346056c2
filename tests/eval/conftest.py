"""Tiny models and fakes for the eval tests (built from seeds, no downloads)."""

from __future__ import annotations

import pytest


def tiny_llama(vocab_size: int = 50, seed: int = 0, max_positions: int = 256):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=max_positions, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    # Random init gives near-uniform predictions; sharpen so differences between sequences are real.
    with torch.no_grad():
        model.lm_head.weight.mul_(30.0)
    return model


@pytest.fixture(scope="session")
def llama():
    return tiny_llama()


SPECIAL = {"bos": 48, "eos": 49}


class FakeEncoder:
    """Stands in for a speech tokenizer: each wav sample stores one token id (value = id / 64)."""

    modality = "audio"
    key = "fake-encoder-v1"
    prefix = [49]
    suffix = [49]
    allowed_tokens = None

    def __init__(self):
        self.calls = 0

    def encode(self, items):
        import numpy as np
        import soundfile as sf

        self.calls += 1
        out = []
        for path in items:
            try:
                x, _ = sf.read(path, dtype="float64")
            except Exception:
                out.append(None)
                continue
            out.append(np.rint(x * 64).astype(np.int64))
        return out


def write_token_wav(path, tokens):
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(tokens, dtype=np.float32) / 64, 16000, subtype="FLOAT")


def make_run(root, model, info=None):
    """A run folder as TRAIN writes it: final/ (HF model + slmscale.json) and summary.json."""
    import json

    run = root / "run"
    model.save_pretrained(run / "final")
    (run / "final" / "slmscale.json").write_text(json.dumps(info or {
        "vocab_size": 50, "special_tokens": SPECIAL, "modality": "units",
        "tokenizer": {"kind": "units", "path": "/nonexistent", "k": 48}, "shards": "/nonexistent"}))
    (run / "summary.json").write_text(json.dumps({"loss": 3.2, "params": 1000, "status": "finished"}))
    return run


@pytest.fixture
def kit():
    """The helpers above, for tests (importlib import mode: test modules cannot import siblings)."""
    from types import SimpleNamespace

    return SimpleNamespace(FakeEncoder=FakeEncoder, make_run=make_run, write_token_wav=write_token_wav,
                           SPECIAL=SPECIAL)
