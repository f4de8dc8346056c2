"""Vocabulary extension: turn a local Hugging Face causal text LM into the start of an interleaved
speech-text LM (SIMS).

`extend_vocabulary(model_dir, out_dir, k)` adds K unit tokens `<u0>..<u{K-1}>` and two modality
switch tokens `<speech>`, `<text>` to the tokenizer and the model and saves both (plus
`speech_vocab.json` and `meta.json`) to `out_dir`, a directory `AutoModelForCausalLM` and
`AutoTokenizer` load.

Token ids. The original tokenizer has `n = len(tokenizer)` tokens. Unit u gets id `n + u`
(`unit_offset = n`), then `<speech>` = n + K and `<text>` = n + K + 1. When the model already has
more embedding rows than n (padding rows, as in Qwen2), the new tokens take those unused rows;
otherwise the embeddings grow. Rows are never removed.

Initialisation rule. Every new input-embedding row is the mean of the original vocabulary's
input rows (ids 0..n-1); every new output row (untied head) is the mean of the original output
rows, and a new output bias, if the head has one, the mean of the original biases. So at every
position a new token's initial logit equals the mean of the original tokens' logits. With a tied
head the output row is the input row, and the same statement holds.

"Text ability intact" means: the transformer body and every original row are untouched, so on
text input the logits over the original vocabulary are identical (bit for bit) to the original
model's, and so is the loss computed over the original vocabulary. The loss over the full, larger
vocabulary is higher by exactly log(1 + sum_new exp(l_new) / Z_orig) per token, because the new
tokens join the softmax normaliser; with the mean rule each l_new is the mean original logit.

The token layout, `speech_vocab.json` and the tokenizer half alone (`extend_tokenizer`, for
building interleaved data before any model exists) live with the other tokenizers in
`slmscale.text.interleaved_vocab`; this module is the weight surgery. It skips work when `out_dir`
already holds its output for the same inputs and settings.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from slmscale.artifacts import write_json, write_meta
from slmscale.errors import UserError
from slmscale.text.interleaved_vocab import (SPEECH_TOKEN, TEXT_TOKEN, UNIT_FORMAT, VOCAB_FILE, SpeechVocab,
                                             add_speech_tokens, dir_fingerprint, extension_settings,
                                             read_speech_vocab, refuse_extended, up_to_date, vocab_layout)

KIND = "extended-lm"


def _load(model_dir: Path, tokenizer_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from slmscale.text.bpe import load_tokenizer

    hf_logging.disable_progress_bar()  # one-second loads of local files: our own messages only
    from slmscale.model.build import check_weights

    tokenizer = load_tokenizer(tokenizer_dir)
    check_weights(model_dir, "model")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True, dtype="auto",
                                                     use_safetensors=True)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{model_dir}: cannot load as a causal LM ({first})") from None
    return tokenizer, model


def extend_vocabulary(model_dir: str | Path, out_dir: str | Path, k: int,
                      unit_format: str = UNIT_FORMAT, speech_token: str = SPEECH_TOKEN,
                      text_token: str = TEXT_TOKEN, tokenizer_dir: str | Path | None = None,
                      force: bool = False) -> SpeechVocab:
    """Add K unit tokens and two switch tokens to the LM in `model_dir`; save to `out_dir`.

    The tokenizer is read from `tokenizer_dir` (default: `model_dir`), e.g. when a training run's
    `final/` model and its text tokenizer live in different folders; `out_dir` gets both.

    Deterministic (no random draws). Returns the new token layout, also saved as `speech_vocab.json`.
    Skipped when `out_dir` already holds the extension of the same model and tokenizer (`force`
    redoes it).
    """
    import torch

    model_dir, out = Path(model_dir), Path(out_dir)
    tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else model_dir
    if k < 1:
        raise UserError(f"k = {k}: need at least one unit token")
    refuse_extended(model_dir, "LM")
    refuse_extended(tok_dir, "tokenizer")
    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: no config.json; give a local Hugging Face causal LM directory")
    config = extension_settings(k, unit_format, speech_token, text_token)
    inputs = {"model": dir_fingerprint(model_dir), "tokenizer": dir_fingerprint(tok_dir)}
    if up_to_date(out, KIND, config, inputs, force):
        return read_speech_vocab(out)
    tokenizer, model = _load(model_dir, tok_dir)
    n = add_speech_tokens(tokenizer, model_dir, k, unit_format, speech_token, text_token)

    emb_in = model.get_input_embeddings()
    emb_out = model.get_output_embeddings()
    if emb_in is None or emb_out is None:
        raise UserError(f"{model_dir}: model exposes no input/output embeddings to extend")
    rows = emb_in.weight.shape[0]
    if rows < n:
        raise UserError(f"{model_dir}: model has {rows} embedding rows but the tokenizer {n} tokens")
    tied = emb_out.weight is emb_in.weight or emb_out.weight.data_ptr() == emb_in.weight.data_ptr()
    # Means over the original vocabulary only: padding rows beyond n may hold anything.
    with torch.no_grad():
        mean_in = emb_in.weight[:n].float().mean(0)
        mean_out = emb_out.weight[:n].float().mean(0)
        bias = getattr(emb_out, "bias", None)
        mean_bias = bias[:n].float().mean() if bias is not None else None
    total = n + k + 2
    if total > rows:
        model.resize_token_embeddings(total, mean_resizing=False)
        emb_in, emb_out = model.get_input_embeddings(), model.get_output_embeddings()
    new = slice(n, total)
    with torch.no_grad():
        emb_in.weight[new] = mean_in.to(emb_in.weight.dtype)
        if not tied:
            emb_out.weight[new] = mean_out.to(emb_out.weight.dtype)
        if getattr(emb_out, "bias", None) is not None and mean_bias is not None:
            emb_out.bias[new] = mean_bias.to(emb_out.bias.dtype)

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    vocab_info = vocab_layout(tokenizer, n, k, unit_format, speech_token, text_token,
                             model.get_input_embeddings().weight.shape[0])
    write_json(out / VOCAB_FILE, asdict(vocab_info))
    write_meta(out, KIND, config, inputs,
               source=str(model_dir.resolve()), tokenizer_source=str(tok_dir.resolve()), tied=bool(tied),
               **{"speech_vocab": asdict(vocab_info)})
    return vocab_info
