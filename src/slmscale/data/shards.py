"""Token shards: a flat token file plus a document index, memory-mapped for training.

Layout of a shards directory:
  tokens.bin      all documents' tokens back to back (uint16 if vocab_size <= 65536, else uint32)
  durations.bin   optional, same length: frames each (deduplicated) unit lasted (uint16)
  docs.jsonl      one line per document: {id, offset, length, split, voice, source, ...}
  meta.json       kind "shards": vocab_size, special_tokens, dtype, modality, tokenizer info,
                  documents, tokens (per split), checksums, plus stage stats

Documents hold content tokens only; separators (EOS) are added by the loader when packing.
Token ids: the tokenizer's own content ids, then its special tokens (named in meta).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import META, atomic_open, read_json, read_meta, sha256_file, write_meta
from slmscale.errors import UserError

KIND = "shards"


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


class ShardWriter:
    """Stream documents into a new shards directory; `close()` writes meta.json last."""

    def __init__(self, out_dir: str | Path, vocab_size: int, special_tokens: dict[str, int],
                 modality: str, tokenizer: dict[str, Any] | None = None, with_durations: bool = False):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.vocab_size = int(vocab_size)
        self.special_tokens = dict(special_tokens)
        self.modality = modality
        self.tokenizer = tokenizer or {}
        self.dtype = dtype_for_vocab(self.vocab_size)
        self.offset = 0
        self.docs: list[dict[str, Any]] = []
        # Stream to temporary names; renamed into place in close().
        self._tok_tmp = self.out / ".tokens.bin.tmp"
        self._tok = open(self._tok_tmp, "wb")
        self._dur_tmp = self.out / ".durations.bin.tmp" if with_durations else None
        self._dur = open(self._dur_tmp, "wb") if self._dur_tmp else None

    def add(self, tokens: np.ndarray, doc_id: str, split: str = "train", voice: str = "",
            source: str = "", durations: np.ndarray | None = None, **extra: Any) -> None:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1:
            raise ValueError(f"document {doc_id}: tokens must be 1-D")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"document {doc_id}: token id out of range [0, {self.vocab_size})")
        self._tok.write(tokens.astype(self.dtype, copy=False).tobytes())
        if self._dur is not None:
            if durations is None or len(durations) != len(tokens):
                raise ValueError(f"document {doc_id}: durations must match tokens")
            self._dur.write(np.minimum(durations, 65535).astype(np.uint16).tobytes())
        self.docs.append({"id": doc_id, "offset": self.offset, "length": int(tokens.size),
                          "split": split, "voice": voice, "source": source, **extra})
        self.offset += int(tokens.size)

    def finish_files(self) -> None:
        """Put tokens.bin, durations.bin and docs.jsonl in place (no meta.json)."""
        for fh in (self._tok, self._dur):
            if fh is not None:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
        os.replace(self._tok_tmp, self.out / "tokens.bin")
        if self._dur_tmp is not None:
            os.replace(self._dur_tmp, self.out / "durations.bin")
        with atomic_open(self.out / "docs.jsonl", "w", encoding="utf-8") as fh:
            for d in self.docs:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")

    def close(self, config: Any, inputs: dict[str, str] | None = None, **stats: Any) -> dict[str, Any]:
        self.finish_files()
        per_split: dict[str, dict[str, int]] = {}
        for d in self.docs:
            s = per_split.setdefault(d["split"], {"documents": 0, "tokens": 0})
            s["documents"] += 1
            s["tokens"] += d["length"]
        checksums = {name: sha256_file(self.out / name)
                     for name in ("tokens.bin", "durations.bin", "docs.jsonl") if (self.out / name).exists()}
        return write_meta(
            self.out, KIND, config, inputs,
            vocab_size=self.vocab_size, special_tokens=self.special_tokens, dtype=self.dtype.name,
            modality=self.modality, tokenizer=self.tokenizer, documents=len(self.docs),
            tokens=self.offset, splits=per_split, has_durations=self._dur_tmp is not None,
            checksums=checksums, **stats,
        )

    def abort(self) -> None:
        for fh, tmp in ((self._tok, self._tok_tmp), (self._dur, self._dur_tmp)):
            if fh is not None:
                fh.close()
                Path(tmp).unlink(missing_ok=True)


class Shards:
    """Read-only view of a shards directory (tokens memory-mapped, never loaded whole)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.meta = read_meta(self.path, KIND)
        tok = self.path / "tokens.bin"
        if not tok.is_file():
            raise UserError(f"{self.path}: tokens.bin missing; rebuild these shards")
        self.dtype = np.dtype(self.meta["dtype"])
        n = tok.stat().st_size // self.dtype.itemsize
        if n != self.meta["tokens"]:
            raise UserError(f"{tok}: holds {n} tokens but meta.json says {self.meta['tokens']}; "
                            "the shards are damaged, rebuild them")
        self.tokens = np.memmap(tok, dtype=self.dtype, mode="r") if n else np.zeros(0, self.dtype)
        dur = self.path / "durations.bin"
        self.durations_flat = (np.memmap(dur, dtype=np.uint16, mode="r")
                               if dur.is_file() and n else None)
        with open(self.path / "docs.jsonl", encoding="utf-8") as fh:
            self.docs = [json.loads(line) for line in fh if line.strip()]
        self.offsets = np.array([d["offset"] for d in self.docs], dtype=np.int64)
        self.lengths = np.array([d["length"] for d in self.docs], dtype=np.int64)
        self.splits = np.array([d["split"] for d in self.docs])

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self.meta["special_tokens"])

    @property
    def eos_id(self) -> int:
        return int(self.meta["special_tokens"]["eos"])

    @property
    def bos_id(self) -> int | None:
        v = self.meta["special_tokens"].get("bos")
        return None if v is None else int(v)

    @property
    def pad_id(self) -> int:
        return int(self.meta["special_tokens"].get("pad", self.eos_id))

    def __len__(self) -> int:
        return len(self.docs)

    def doc(self, i: int) -> np.ndarray:
        o, n = self.offsets[i], self.lengths[i]
        return np.asarray(self.tokens[o:o + n])

    def doc_durations(self, i: int) -> np.ndarray:
        if self.durations_flat is None:
            raise UserError(f"{self.path}: no unit durations stored (encode with dedup to keep them)")
        o, n = self.offsets[i], self.lengths[i]
        return np.asarray(self.durations_flat[o:o + n])

    def indices(self, split: str | None = None) -> np.ndarray:
        """Document indices of one split (all documents when `split` is None)."""
        if split is None:
            return np.arange(len(self.docs))
        return np.flatnonzero(self.splits == split)

    def split_tokens(self, split: str) -> int:
        return int(self.lengths[self.indices(split)].sum())


def is_shards(path: str | Path) -> bool:
    return (Path(path) / META).is_file() and (Path(path) / "tokens.bin").is_file()


def interleaved_tokenizer(path: str | Path, hint: str = "") -> dict:
    """The `tokenizer` entry of interleaved shards' meta.json (path of the extended tokenizer, k, ...);
    a UserError naming the shards when they are not interleaved. `hint` prefixes the message."""
    meta = Path(path) / META
    tok = (read_json(meta).get("tokenizer") or {}) if meta.is_file() else {}
    if tok.get("kind") != "interleaved" or not tok.get("path") or not tok.get("k"):
        raise UserError(f"{hint}{path}: not interleaved shards (meta.json tokenizer.kind is {tok.get('kind')!r}); "
                        "build them with `slmscale data interleave`")
    return tok
