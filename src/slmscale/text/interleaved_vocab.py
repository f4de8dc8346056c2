"""The interleaved speech-text vocabulary (SIMS): a text tokenizer extended with K unit tokens
`<u0>..<u{K-1}>` and two modality switch tokens `<speech>`, `<text>`.

It lives with the other tokenizers (`text.bpe` for text, `text.unit_tokenizer` for unit ids); the
weight surgery that gives a model the matching embedding rows is `model.extend`.

Token ids. The original tokenizer has `n = len(tokenizer)` tokens. Unit u gets id `n + u`
(`unit_offset = n`), then `<speech>` = n + K and `<text>` = n + K + 1. The layout is saved as
`speech_vocab.json` (`SpeechVocab`).

`extend_tokenizer(tokenizer_dir, out_dir, k)` builds the extended tokenizer alone: interleaved data
can be built before any model exists, and every model later extended from the same text tokenizer
gets exactly these ids (`check_same_vocabulary` asserts it). It skips work when `out_dir` already
holds its output for the same inputs and settings.
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


def add_speech_tokens(tokenizer: Any, where: Path, k: int, unit_format: str, speech_token: str,
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


def vocab_layout(tokenizer: Any, n: int, k: int, unit_format: str, speech_token: str, text_token: str,
                rows: int) -> SpeechVocab:
    eos = tokenizer.eos_token_id
    return SpeechVocab(
        k=k, unit_offset=n, unit_format=unit_format, speech_token=speech_token,
        speech_token_id=n + k, text_token=text_token, text_token_id=n + k + 1, original_size=n,
        vocab_size=len(tokenizer), embedding_rows=int(rows), eos_id=int(eos),
        bos_id=None if tokenizer.bos_token_id is None else int(tokenizer.bos_token_id),
        pad_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos))


def extension_settings(k: int, unit_format: str, speech_token: str, text_token: str) -> dict[str, Any]:
    return {"k": k, "unit_format": unit_format, "speech_token": speech_token, "text_token": text_token,
            "init": "mean"}


def refuse_extended(path: Path, what: str) -> None:
    if (path / VOCAB_FILE).is_file():
        raise UserError(f"{path}: already extended with speech tokens; start from the text {what}")


def up_to_date(out: Path, kind: str, config: dict[str, Any], inputs: dict[str, str], force: bool) -> bool:
    if not force and is_fresh(out, fingerprint(kind, config, inputs)) and (out / VOCAB_FILE).is_file():
        info(f"{out}: extended {'tokenizer' if kind == TOKENIZER_KIND else 'model'} is up to date; skipped")
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
    refuse_extended(tok_dir, "tokenizer")
    config = extension_settings(k, unit_format, speech_token, text_token)
    inputs = {"tokenizer": dir_fingerprint(tok_dir)}
    if up_to_date(out, TOKENIZER_KIND, config, inputs, force):
        return read_speech_vocab(out)
    tokenizer = load_tokenizer(tok_dir)
    n = add_speech_tokens(tokenizer, tok_dir, k, unit_format, speech_token, text_token)
    vocab_info = vocab_layout(tokenizer, n, k, unit_format, speech_token, text_token, len(tokenizer))
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    write_json(out / VOCAB_FILE, asdict(vocab_info))
    write_meta(out, TOKENIZER_KIND, config, inputs, tokenizer_source=str(tok_dir.resolve()),
               speech_vocab=asdict(vocab_info))
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


def dir_fingerprint(path: Path) -> str:
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
