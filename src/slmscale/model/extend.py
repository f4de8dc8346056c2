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

`extend_tokenizer(tokenizer_dir, out_dir, k)` does the tokenizer half alone (same ids, same
`speech_vocab.json`): interleaved data can be built before any model exists, and every model later
extended from the same text tokenizer gets exactly these ids (`check_same_vocabulary` asserts it).
Both functions skip work when `out_dir` already holds their output for the same inputs and settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import (META, fingerprint, is_fresh, read_json, read_meta, sha256_file, write_json,
                                write_meta)
from slmscale.errors import UserError
from slmscale.progress import info

KIND = "extended-lm"
TOKENIZER_KIND = "extended-tokenizer"
VOCAB_FILE = "speech_vocab.json"
UNIT_FORMAT = "<u{}>"
SPEECH_TOKEN = "<speech>"
TEXT_TOKEN = "<text>"


@dataclass(frozen=True)
class SpeechVocab:
    """Where the speech tokens sit in an extended vocabulary (`speech_vocab.json`)."""

    k: int                    # number of unit tokens
    unit_offset: int          # id of <u0>; unit u -> unit_offset + u
    unit_format: str          # token string of unit u: unit_format.format(u)
    speech_token: str
    speech_token_id: int
    text_token: str
    text_token_id: int
    original_size: int        # len(original tokenizer): ids below it are the text vocabulary
    vocab_size: int           # len(extended tokenizer)
    embedding_rows: int       # rows of the extended model's embedding matrix (>= vocab_size)
    eos_id: int
    bos_id: int | None
    pad_id: int
    init: str = "mean"

    def unit_ids(self, units: np.ndarray) -> np.ndarray:
        """Token ids of unit indices (0..K-1)."""
        units = np.asarray(units, dtype=np.int64)
        if units.size and (units.min() < 0 or units.max() >= self.k):
            raise ValueError(f"unit index out of range [0, {self.k})")
        return units + self.unit_offset

    def speech_sequence(self, units: np.ndarray) -> np.ndarray:
        """A speech-only input as in training: `<speech>` then the unit tokens."""
        return np.concatenate([[self.speech_token_id], self.unit_ids(units)]).astype(np.int64)

    def restricted_ids(self) -> np.ndarray:
        """Ids a speech-only task may score over: the K unit tokens and end-of-sequence."""
        return np.append(np.arange(self.unit_offset, self.unit_offset + self.k), self.eos_id).astype(np.int64)

    def special_tokens(self) -> dict[str, int]:
        """Special-token ids for shards meta (bos/eos/pad plus the two switch tokens)."""
        out = {"eos": self.eos_id, "pad": self.pad_id, "speech": self.speech_token_id,
               "text": self.text_token_id}
        if self.bos_id is not None:
            out["bos"] = self.bos_id
        return out


def read_speech_vocab(path: str | Path) -> SpeechVocab:
    path = Path(path)
    f = path / VOCAB_FILE
    if not f.is_file():
        raise UserError(f"{path}: no {VOCAB_FILE}; this is not an extended model/tokenizer directory "
                        "(make one with extend_vocabulary)")
    return SpeechVocab(**read_json(f))


def speech_token_ids(tokenizer_dir: str | Path) -> np.ndarray:
    """Ids of the K unit tokens (speech content), ascending. Restricted-logit evaluation of speech-only
    tasks uses these plus the end-of-sequence id; `<speech>` is a conditioning prefix, not scored."""
    v = read_speech_vocab(tokenizer_dir)
    return np.arange(v.unit_offset, v.unit_offset + v.k, dtype=np.int64)


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


def _add_speech_tokens(tokenizer: Any, where: Path, k: int, unit_format: str, speech_token: str,
                       text_token: str) -> int:
    """Add `<u0>..<u{k-1}>`, `<speech>`, `<text>` after the tokenizer's `n` tokens; returns n."""
    if k < 1:
        raise UserError(f"k = {k}: need at least one unit token")
    n = len(tokenizer)
    new_tokens = [unit_format.format(u) for u in range(k)] + [speech_token, text_token]
    if len(set(new_tokens)) != len(new_tokens):
        raise UserError(f"unit_format {unit_format!r} and switch tokens must give distinct strings")
    vocab = tokenizer.get_vocab()
    clash = [t for t in new_tokens if t in vocab]
    if clash:
        raise UserError(f"{where}: tokenizer already has {clash[0]!r}; choose another unit_format "
                        "or switch-token name")
    # Special tokens: matched whole, never split or normalised, in any tokenizer backend.
    added = tokenizer.add_tokens(new_tokens, special_tokens=True)
    ids = tokenizer.convert_tokens_to_ids(new_tokens)
    if added != len(new_tokens) or ids != list(range(n, n + len(new_tokens))):
        raise UserError(f"{where}: tokenizer did not give the new tokens consecutive ids after its "
                        f"{n} tokens; its vocabulary has holes, which is not supported")
    if tokenizer.eos_token_id is None:
        raise UserError(f"{where}: tokenizer has no end-of-sequence token; set eos_token")
    return n


def _vocab_info(tokenizer: Any, n: int, k: int, unit_format: str, speech_token: str, text_token: str,
                rows: int) -> SpeechVocab:
    eos = tokenizer.eos_token_id
    return SpeechVocab(
        k=k, unit_offset=n, unit_format=unit_format, speech_token=speech_token,
        speech_token_id=n + k, text_token=text_token, text_token_id=n + k + 1, original_size=n,
        vocab_size=len(tokenizer), embedding_rows=int(rows), eos_id=int(eos),
        bos_id=None if tokenizer.bos_token_id is None else int(tokenizer.bos_token_id),
        pad_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos))


def _settings(k: int, unit_format: str, speech_token: str, text_token: str) -> dict[str, Any]:
    return {"k": k, "unit_format": unit_format, "speech_token": speech_token, "text_token": text_token,
            "init": "mean"}


def _refuse_extended(path: Path, what: str) -> None:
    if (path / VOCAB_FILE).is_file():
        raise UserError(f"{path}: already extended with speech tokens; start from the text {what}")


def _cached(out: Path, kind: str, config: dict[str, Any], inputs: dict[str, str], force: bool) -> bool:
    if not force and is_fresh(out, fingerprint(kind, config, inputs)) and (out / VOCAB_FILE).is_file():
        info(f"{out}: extended {'model' if kind == KIND else 'tokenizer'} is up to date; skipped")
        return True
    # Unfinished from here on: a crash while writing must not leave an old meta.json vouching for it.
    (out / META).unlink(missing_ok=True)
    return False


def extend_tokenizer(tokenizer_dir: str | Path, out_dir: str | Path, k: int,
                     unit_format: str = UNIT_FORMAT, speech_token: str = SPEECH_TOKEN,
                     text_token: str = TEXT_TOKEN, force: bool = False) -> SpeechVocab:
    """The tokenizer half of `extend_vocabulary`: same new tokens, same ids, same speech_vocab.json
    (`embedding_rows` = the tokenizer size, as no model is involved); meta kind "extended-tokenizer".

    Token ids depend only on the original tokenizer and the settings, so shards built with this
    tokenizer serve every model later extended from the same text tokenizer."""
    from slmscale.text.bpe import load_tokenizer

    tok_dir, out = Path(tokenizer_dir), Path(out_dir)
    _refuse_extended(tok_dir, "tokenizer")
    config = _settings(k, unit_format, speech_token, text_token)
    inputs = {"tokenizer": _dir_fingerprint(tok_dir)}
    if _cached(out, TOKENIZER_KIND, config, inputs, force):
        return read_speech_vocab(out)
    tokenizer = load_tokenizer(tok_dir)
    n = _add_speech_tokens(tokenizer, tok_dir, k, unit_format, speech_token, text_token)
    vocab_info = _vocab_info(tokenizer, n, k, unit_format, speech_token, text_token, len(tokenizer))
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    write_json(out / VOCAB_FILE, asdict(vocab_info))
    write_meta(out, TOKENIZER_KIND, config, inputs, tokenizer_source=str(tok_dir.resolve()),
               speech_vocab=asdict(vocab_info))
    return vocab_info


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
    _refuse_extended(model_dir, "LM")
    _refuse_extended(tok_dir, "tokenizer")
    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: no config.json; give a local Hugging Face causal LM directory")
    config = _settings(k, unit_format, speech_token, text_token)
    inputs = {"model": _dir_fingerprint(model_dir), "tokenizer": _dir_fingerprint(tok_dir)}
    if _cached(out, KIND, config, inputs, force):
        return read_speech_vocab(out)
    tokenizer, model = _load(model_dir, tok_dir)
    n = _add_speech_tokens(tokenizer, model_dir, k, unit_format, speech_token, text_token)

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
    vocab_info = _vocab_info(tokenizer, n, k, unit_format, speech_token, text_token,
                             model.get_input_embeddings().weight.shape[0])
    write_json(out / VOCAB_FILE, asdict(vocab_info))
    write_meta(out, KIND, config, inputs,
               source=str(model_dir.resolve()), tokenizer_source=str(tok_dir.resolve()), tied=bool(tied),
               **{"speech_vocab": asdict(vocab_info)})
    return vocab_info


# Fields that fix which id every token gets (embedding_rows may differ: padding rows, no model).
LAYOUT_FIELDS = ("k", "unit_offset", "unit_format", "speech_token", "speech_token_id", "text_token",
                 "text_token_id", "original_size", "vocab_size", "eos_id", "bos_id", "pad_id")


def check_same_vocabulary(a: str | Path, b: str | Path) -> SpeechVocab:
    """Raise a UserError unless two extended directories give every token the same id (text tokens
    and the added speech tokens alike); returns `a`'s layout. This is what lets one set of
    interleaved shards serve every model extended from the same text tokenizer."""
    from slmscale.text.bpe import load_tokenizer

    va, vb = read_speech_vocab(a), read_speech_vocab(b)
    for f in LAYOUT_FIELDS:
        if getattr(va, f) != getattr(vb, f):
            raise UserError(f"{a} and {b}: different token layouts ({f} {getattr(va, f)!r} vs "
                            f"{getattr(vb, f)!r}); extend the same text tokenizer with the same k")
    ta, tb = load_tokenizer(a).get_vocab(), load_tokenizer(b).get_vocab()
    if ta != tb:
        bad = sorted(set(ta.items()) ^ set(tb.items()), key=lambda kv: kv[1])[0]
        raise UserError(f"{a} and {b}: token {bad[0]!r} has different ids; they were extended from "
                        "different text tokenizers")
    return va


def _dir_fingerprint(path: Path) -> str:
    """The source model's identity: its meta fingerprint when it is an slmscale artifact, else the
    hash of its config and weight files."""
    if not path.is_dir():
        raise UserError(f"{path}: directory not found (give a local Hugging Face model/tokenizer directory)")
    try:
        return str(read_meta(path).get("fingerprint"))
    except UserError:
        pass
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin"})
    return sha256_file_list(files)


def sha256_file_list(files: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()
