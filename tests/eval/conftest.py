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

