"""Build a transformers causal LM from a preset (or load any AutoModelForCausalLM directory).

The vocabulary and special tokens come from the shards' meta, so the model's embedding table
matches the token ids the loader produces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmscale.errors import UserError
from slmscale.model.presets import ModelShape


def llama_config(shape: ModelShape, vocab_size: int, special_tokens: dict[str, int], max_positions: int,
                 tie_embeddings: bool = False, rope_theta: float = 10_000.0) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.d_model,
        intermediate_size=shape.ffn,
        num_hidden_layers=shape.n_layers,
        num_attention_heads=shape.n_heads,
        num_key_value_heads=shape.n_heads,
        max_position_embeddings=max_positions,
        rms_norm_eps=1e-5,
        rope_theta=rope_theta,
        initializer_range=0.02,
        tie_word_embeddings=tie_embeddings,
        bos_token_id=special_tokens.get("bos"),
        eos_token_id=special_tokens.get("eos"),
        pad_token_id=special_tokens.get("pad", special_tokens.get("eos")),
        attention_bias=False,
        mlp_bias=False,
        use_cache=False,
    )


def build_model(shape: ModelShape, vocab_size: int, special_tokens: dict[str, int], max_positions: int,
                seed: int, tie_embeddings: bool = False) -> Any:
    """A freshly initialised LlamaForCausalLM; same seed = same weights."""
    import torch
    from transformers import LlamaForCausalLM

    cfg = llama_config(shape, vocab_size, special_tokens, max_positions, tie_embeddings)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# A zip (torch.save since 1.6) or a raw pickle stream (protocol 2+), never a safetensors header.
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")


def check_weights(path: str | Path, what: str) -> None:
    """Refuse, in one line, what `from_pretrained` must not see: pickled weights (slmscale never
    unpickles), a pickle renamed `.safetensors`, or a damaged (e.g. truncated) safetensors file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
        if pickles:
            raise UserError(f"{what} {path}: the weights are pickled ({pickles[0]}); slmscale loads only "
                            "safetensors: convert them in a trusted environment (save_pretrained writes "
                            "model.safetensors)")
        raise UserError(f"{what} {path}: no model weights (*.safetensors) in this directory")
    for file in weights:
        with open(file, "rb") as fh:
            head = fh.read(4)
        if head.startswith(_PICKLE_MAGIC):
            raise UserError(f"{what} {file}: a pickle named .safetensors, refused (slmscale never unpickles); "
                            "convert it to real safetensors in a trusted environment")
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise UserError(f"{what} {file}: damaged safetensors file ({str(err).splitlines()[0]}); "
                            "restore or rebuild it") from None


def load_pretrained(path: str | Path, vocab_size: int | None = None) -> Any:
    """Any local AutoModelForCausalLM directory with safetensors weights; the embeddings grow to
    `vocab_size` if needed."""
    from transformers import AutoModelForCausalLM

    from slmscale.hf_cache import resolve_model_dir  # a folder, or a model id in the local HF cache

    path = resolve_model_dir(path, "model.init_from")
    if not (path / "config.json").is_file():
        raise UserError(f"model.init_from {path}: not a model directory (no config.json)")
    check_weights(path, "model.init_from")
    try:
        model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa", dtype="float32",
                                                     use_safetensors=True)
    except (OSError, ValueError) as err:
        raise UserError(f"model.init_from {path}: cannot load ({str(err).splitlines()[0]})") from None
    if vocab_size is not None and model.get_input_embeddings().num_embeddings < vocab_size:
        model.resize_token_embeddings(vocab_size)
    return model
