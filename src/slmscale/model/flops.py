"""FLOP accounting: C = 6·N·D (the scaling-law count) and a Chinchilla-style full count.

The full count (Hoffmann et al. 2022, appendix F) per sequence of T tokens, forward pass:
  embeddings 2·T·V·d; per layer: QKV projections 2·3·T·d·(h·k), attention logits 2·T²·(h·k),
  softmax 3·h·T², attention over values 2·T²·(h·k), output projection 2·T·(h·k)·d,
  SwiGLU MLP 2·3·T·d·f; output head 2·T·d·V. Backward = 2× forward, so training = 3× forward.
Attention is counted over the full T×T square, as Chinchilla and PyTorch's FLOP counter do.
"""

from __future__ import annotations

from typing import Any


def flops_6nd(n_params: float, tokens: float) -> float:
    """The compute of the scaling-law papers: C = 6·N·D."""
    return 6.0 * float(n_params) * float(tokens)


def _dims(config: Any) -> tuple[int, int, int, int, int, int]:
    d = int(config.hidden_size)
    h = int(config.num_attention_heads)
    k = int(getattr(config, "head_dim", None) or d // h)
    kv = int(getattr(config, "num_key_value_heads", None) or h)
    return d, h, k, kv, int(config.intermediate_size), int(config.num_hidden_layers)


def forward_breakdown(config: Any, seq_len: int) -> dict[str, float]:
    """Forward FLOPs of one sequence, by component (see module doc)."""
    d, h, k, kv, f, n_layers = _dims(config)
    v, t = int(config.vocab_size), int(seq_len)
    return {
        "embedding": 2.0 * t * v * d,
        "qkv": n_layers * 2.0 * t * d * (h * k + 2 * kv * k),
        "attn_logits": n_layers * 2.0 * t * t * h * k,
        "softmax": n_layers * 3.0 * h * t * t,
        "attn_values": n_layers * 2.0 * t * t * h * k,
        "attn_out": n_layers * 2.0 * t * h * k * d,
        "mlp": n_layers * 2.0 * 3 * t * d * f,
        "head": 2.0 * t * d * v,
    }


def flops_full(config: Any, seq_len: int, tokens: float) -> float:
    """Chinchilla-style training FLOPs for `tokens` tokens in sequences of `seq_len`."""
    per_seq = sum(forward_breakdown(config, seq_len).values())
    return 3.0 * per_seq * float(tokens) / seq_len


def model_flops_per_token(config: Any, seq_len: int) -> float:
    """Training FLOPs per token that the hardware does as matrix products (for MFU).

    This is the full count without the embedding lookup and softmax (a gather and an
    element-wise op, not matmuls): 6N-like projections + attention + output head.
    """
    b = forward_breakdown(config, seq_len)
    return 3.0 * (sum(b.values()) - b["embedding"] - b["softmax"]) / seq_len
