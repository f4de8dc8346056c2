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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import read_json, read_meta, sha256_file, write_json, write_meta
from slmscale.errors import UserError

KIND = "extended-lm"
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

    from slmscale.text.bpe import load_tokenizer

    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: no config.json; give a local Hugging Face causal LM directory")
    tokenizer = load_tokenizer(tokenizer_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True, dtype="auto")
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{model_dir}: cannot load as a causal LM ({first})") from None
    return tokenizer, model


def extend_vocabulary(model_dir: str | Path, out_dir: str | Path, k: int,
                      unit_format: str = UNIT_FORMAT, speech_token: str = SPEECH_TOKEN,
                      text_token: str = TEXT_TOKEN, tokenizer_dir: str | Path | None = None) -> SpeechVocab:
    """Add K unit tokens and two switch tokens to the LM in `model_dir`; save to `out_dir`.

    The tokenizer is read from `tokenizer_dir` (default: `model_dir`), e.g. when a training run's
    `final/` model and its text tokenizer live in different folders; `out_dir` gets both.

    Deterministic (no random draws). Returns the new token layout, also saved as `speech_vocab.json`.
    """
    import torch

    model_dir, out = Path(model_dir), Path(out_dir)
    tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else model_dir
    if k < 1:
        raise UserError(f"k = {k}: need at least one unit token")
    if (model_dir / VOCAB_FILE).is_file():
        raise UserError(f"{model_dir}: already extended with speech tokens; start from the text LM")
    tokenizer, model = _load(model_dir, tok_dir)
    n = len(tokenizer)
    new_tokens = [unit_format.format(u) for u in range(k)] + [speech_token, text_token]
    if len(set(new_tokens)) != len(new_tokens):
        raise UserError(f"unit_format {unit_format!r} and switch tokens must give distinct strings")
    vocab = tokenizer.get_vocab()
    clash = [t for t in new_tokens if t in vocab]
    if clash:
        raise UserError(f"{model_dir}: tokenizer already has {clash[0]!r}; choose another unit_format "
                        "or switch-token name")
    # Special tokens: matched whole, never split or normalised, in any tokenizer backend.
    added = tokenizer.add_tokens(new_tokens, special_tokens=True)
    ids = tokenizer.convert_tokens_to_ids(new_tokens)
    if added != len(new_tokens) or ids != list(range(n, n + len(new_tokens))):
        raise UserError(f"{model_dir}: tokenizer did not give the new tokens consecutive ids after its "
                        f"{n} tokens; its vocabulary has holes, which is not supported")

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
    total = n + len(new_tokens)
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
    eos = tokenizer.eos_token_id
    if eos is None:
        raise UserError(f"{model_dir}: tokenizer has no end-of-sequence token; set eos_token")
    vocab_info = SpeechVocab(
        k=k, unit_offset=n, unit_format=unit_format, speech_token=speech_token,
        speech_token_id=n + k, text_token=text_token, text_token_id=n + k + 1, original_size=n,
        vocab_size=len(tokenizer), embedding_rows=int(model.get_input_embeddings().weight.shape[0]),
        eos_id=int(eos), bos_id=None if tokenizer.bos_token_id is None else int(tokenizer.bos_token_id),
        pad_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos))
    write_json(out / VOCAB_FILE, asdict(vocab_info))
    write_meta(out, KIND, {"k": k, "unit_format": unit_format, "speech_token": speech_token,
                           "text_token": text_token, "init": "mean"},
               {"model": _dir_fingerprint(model_dir), "tokenizer": _dir_fingerprint(tok_dir)},
               source=str(model_dir.resolve()), tokenizer_source=str(tok_dir.resolve()), tied=bool(tied),
               **{"speech_vocab": asdict(vocab_info)})
    return vocab_info


def _dir_fingerprint(path: Path) -> str:
    """The source model's identity: its meta fingerprint when it is an slmscale artifact, else the
    hash of its config and weight files."""
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
