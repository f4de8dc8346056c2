"""Text tokenizers for the text arm and for interleaving: a byte-level BPE trained with Hugging Face
`tokenizers` on corpus texts (the built-in setting), or any local Hugging Face tokenizer directory.

A trained tokenizer is saved as a Hugging Face tokenizer directory (`tokenizer.json`,
`tokenizer_config.json`; loadable with `AutoTokenizer` / `PreTrainedTokenizerFast`) with special
tokens `<pad>` = 0, `<s>` (bos) = 1, `</s>` (eos) = 2, plus `meta.json` (kind "text-tokenizer").
No post-processor adds bos/eos: documents hold content tokens only; the loader adds separators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from slmscale.artifacts import read_json, sha256_file, sha256_json, write_meta
from slmscale.errors import UserError

KIND = "text-tokenizer"
SPECIAL_TOKENS = {"pad": "<pad>", "bos": "<s>", "eos": "</s>"}
# The files a Hugging Face tokenizer directory may hold (fast, slow and SentencePiece backends).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                   "merges.txt", "tokenizer.model", "added_tokens.json")


def train_bpe(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 4096,
              min_frequency: int = 2) -> Any:
    """Train a byte-level BPE on `texts`, save it to `out_dir`, and return the loaded tokenizer.

    Every byte is in the base alphabet, so any text encodes (no unknown token). Training is
    deterministic for the same texts and settings (checked by a test: same bytes twice).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise UserError(f"{out_dir}: no text to train the BPE tokenizer on; give a non-empty corpus")
    n_special = len(SPECIAL_TOKENS)
    if vocab_size < 256 + n_special:
        raise UserError(f"BPE vocab_size {vocab_size} is too small: the byte alphabet alone needs "
                        f"{256 + n_special} ids; use at least 512")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        special_tokens=list(SPECIAL_TOKENS.values()),  # ids 0, 1, 2 in this order
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIAL_TOKENS["bos"],
                                   eos_token=SPECIAL_TOKENS["eos"], pad_token=SPECIAL_TOKENS["pad"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    write_meta(out, KIND, {"type": "byte-bpe", "vocab_size": vocab_size, "min_frequency": min_frequency},
               {"texts": sha256_json(texts)}, size=len(fast), texts=len(texts),
               special_tokens=_special_ids(fast, out))
    return load_tokenizer(out)


def load_tokenizer(path: str | Path) -> Any:
    """Load any local Hugging Face tokenizer directory (never downloads)."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: tokenizer directory not found (train one with train_bpe or give a "
                        "local Hugging Face tokenizer/model directory)")
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a loadable Hugging Face tokenizer ({first})") from None


def _special_ids(tokenizer: Any, where: str | Path) -> dict[str, int]:
    """bos/eos/pad ids for shards; pad falls back to eos and bos may be absent (e.g. GPT-2 has one
    token for both)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise UserError(f"{where}: tokenizer has no end-of-sequence token; set eos_token in its "
                        "tokenizer_config.json")
    out = {"eos": int(eos)}
    if tokenizer.bos_token_id is not None:
        out["bos"] = int(tokenizer.bos_token_id)
    out["pad"] = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else int(eos)
    return out


def tokenizer_info(tokenizer: Any) -> dict[str, Any]:
    """What shards record about a text tokenizer: kind, absolute path, size, fingerprint."""
    path = Path(tokenizer.name_or_path).resolve()
    tj = path / "tokenizer.json"
    fp = sha256_file(tj) if tj.is_file() else ""
    meta = path / "meta.json"
    if meta.is_file():
        fp = read_json(meta).get("fingerprint", fp)
    return {"kind": "text", "path": str(path), "size": len(tokenizer), "fingerprint": fp}


def encode_texts(tokenizer: Any, texts: Sequence[str], batch_size: int = 512) -> list[np.ndarray]:
    """Content tokens of each text (no bos/eos added), in batches through the fast tokenizer."""
    out: list[np.ndarray] = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[i:i + batch_size]), add_special_tokens=False)["input_ids"]
        out.extend(np.asarray(ids, dtype=np.int64) for ids in enc)
    return out


def encode_texts_to_shards(texts: Sequence[str], tokenizer: Any, out_dir: str | Path,
                           ids: Sequence[str] | None = None, splits: Sequence[str] | None = None,
                           config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write texts as modality "text" shards; `tokenizer` is a loaded tokenizer or a directory.

    Documents hold content tokens only; empty texts are skipped and counted (`skipped` in meta).
    Returns the shards' meta.
    """
    from slmscale.data.shards import ShardWriter

    if isinstance(tokenizer, (str, Path)):
        tokenizer = load_tokenizer(tokenizer)
    n = len(texts)
    ids = list(ids) if ids is not None else [f"text-{i:08d}" for i in range(n)]
    splits = list(splits) if splits is not None else ["train"] * n
    if len(ids) != n or len(splits) != n:
        raise ValueError("texts, ids and splits must have the same length")
    info = tokenizer_info(tokenizer)
    writer = ShardWriter(out_dir, vocab_size=len(tokenizer),
                         special_tokens=_special_ids(tokenizer, info["path"]),
                         modality="text", tokenizer=info)
    skipped: list[str] = []
    try:
        for doc_id, split, toks in zip(ids, splits, encode_texts(tokenizer, texts)):
            if toks.size == 0:
                skipped.append(doc_id)
                continue
            writer.add(toks, doc_id=doc_id, split=split, source=doc_id)
    except BaseException:
        writer.abort()
        raise
    return writer.close(config or {}, {"texts": sha256_json(list(texts)), "tokenizer": info["fingerprint"]},
                        skipped=len(skipped), skipped_ids=skipped[:100])
