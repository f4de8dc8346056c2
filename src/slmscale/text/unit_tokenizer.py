"""A Hugging Face tokenizer for unit (and unigram-unit) runs, so RUN/final is a complete model dir.

Tokens are the ids themselves as decimal strings, the textless convention: the document "12 5 7"
encodes to ids [12, 5, 7] and decodes back to it. The shards' special tokens ("bos", "eos", ...)
become `<bos>`, `<eos>`, ... at their own ids. Nothing unknown maps to a default id: a token outside
the vocabulary is an error, as it would be a unit the model never saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slmscale.artifacts import write_json

UNIT_MODALITIES = ("units", "unigram")


def unit_tokenizer(vocab_size: int, special_tokens: dict[str, int]) -> Any:
    """A `PreTrainedTokenizerFast` over ids 0..vocab_size-1 (specials named `<name>`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    names = {int(i): f"<{name}>" for name, i in special_tokens.items()}
    vocab = {names.get(i, str(i)): i for i in range(vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab=vocab))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins tokens with single spaces
    kwargs = {f"{name}_token": f"<{name}>" for name in special_tokens if name in ("bos", "eos", "pad", "unk")}
    if "pad_token" not in kwargs and "eos" in special_tokens:
        kwargs["pad_token"] = "<eos>"  # batching pads with eos, like the trainer's loader
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def complete_final_dir(final: str | Path, shards_meta: dict[str, Any]) -> None:
    """Make a run's `final/` a complete Hugging Face model dir: a tokenizer for unit runs (text and
    interleaved runs copy their own) and `use_cache` on in config.json (generation needs it;
    training turns it off per call)."""
    final = Path(final)
    if shards_meta.get("modality") in UNIT_MODALITIES and not (final / "tokenizer.json").exists():
        unit_tokenizer(int(shards_meta["vocab_size"]), dict(shards_meta["special_tokens"])).save_pretrained(str(final))
    config = final / "config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
        if data.get("use_cache") is not True:
            data["use_cache"] = True
            write_json(config, data)
