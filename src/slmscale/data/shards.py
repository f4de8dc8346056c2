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

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import META, atomic_open, iter_jsonl, read_json, read_meta, sha256_file, write_meta
from slmscale.errors import UserError
from slmscale.locks import exclusive

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
        self._dur_tmp = self.out / ".durations.bin.tmp" if with_durations else None
        self._tok = self._dur = None
        # Two writers on one folder would interleave their temporaries: the second fails at once.
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(exclusive(self.out, "another process writing shards"))
        try:
            self._tok = open(self._tok_tmp, "wb")
            self._dur = open(self._dur_tmp, "wb") if self._dur_tmp else None
        except BaseException:
            self.abort()
            raise

    def add(self, tokens: np.ndarray, doc_id: str, split: str = "train", voice: str = "",
            source: str = "", durations: np.ndarray | None = None, **extra: Any) -> None:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1:
            raise ValueError(f"document {doc_id}: tokens must be 1-D")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"document {doc_id}: token id out of range [0, {self.vocab_size})")
        if self._dur is not None and (durations is None or len(durations) != len(tokens)):
            raise ValueError(f"document {doc_id}: durations must match tokens")
        try:
            self._tok.write(tokens.astype(self.dtype, copy=False).tobytes())
            if self._dur is not None:
                self._dur.write(np.minimum(durations, 65535).astype(np.uint16).tobytes())
        except OSError as err:  # e.g. a full disk: name the shards in the one-line error
            if err.filename is None:
                err.filename = str(self.out)
            raise
        self.docs.append({"id": doc_id, "offset": self.offset, "length": int(tokens.size),
                          "split": split, "voice": voice, "source": source, **extra})
        self.offset += int(tokens.size)

    def finish_files(self) -> None:
        """Put tokens.bin, durations.bin and docs.jsonl in place (no meta.json) and release the
        folder; on any failure (e.g. a full disk) the temporaries are removed."""
        try:
            self._finish_files()
        except BaseException as err:
            self.abort()
            if isinstance(err, OSError) and err.filename is None:
                err.filename = str(self.out)
            raise
        self._lock.close()

    def close(self, config: Any, inputs: dict[str, str] | None = None, **stats: Any) -> dict[str, Any]:
        """finish_files, then meta.json last (so a failed close never leaves a valid-looking folder)."""
        self.finish_files()
        try:
            return self._write_meta(config, inputs, **stats)
        except OSError as err:
            if err.filename is None:
                err.filename = str(self.out)
            raise

    def _finish_files(self) -> None:
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

    def _write_meta(self, config: Any, inputs: dict[str, str] | None = None, **stats: Any) -> dict[str, Any]:
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
        """Drop the temporaries and the lock (safe to call twice, and after a failed close)."""
        for fh, tmp in ((self._tok, self._tok_tmp), (self._dur, self._dur_tmp)):
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()
                Path(tmp).unlink(missing_ok=True)
        self._lock.close()


class Shards:
    """Read-only view of a shards directory (tokens memory-mapped, never loaded whole).

    Opening always checks what is cheap: file sizes against meta.json, every docs.jsonl line
    (a broken one is named as file:line), and that the documents tile tokens.bin exactly (offsets
    contiguous, lengths summing to the file). Token ids are range-checked as documents are read.
    `verify=True` also recomputes the sha256 of every file recorded in meta.json and scans every
    token id (one pass over the data; see `verify`).
    """

    def __init__(self, path: str | Path, verify: bool = False):
        self.path = Path(path)
        self.meta = read_meta(self.path, KIND)
        tok = self.path / "tokens.bin"
        if not tok.is_file():
            raise UserError(f"{self.path}: tokens.bin missing; rebuild these shards")
        try:
            self.dtype = np.dtype(self.meta["dtype"])
            expected = int(self.meta["tokens"])
            int(self.meta["vocab_size"])
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{self.path / META}: damaged shards metadata ({type(err).__name__}: {err}); "
                            "rebuild these shards") from None
        size = tok.stat().st_size
        n = size // self.dtype.itemsize
        if size % self.dtype.itemsize or n != expected:
            raise UserError(f"{tok}: {size} bytes hold {size / self.dtype.itemsize:g} {self.dtype.name} tokens "
                            f"but meta.json says {expected}; the shards are damaged, rebuild them")
        self.tokens = np.memmap(tok, dtype=self.dtype, mode="r") if n else np.zeros(0, self.dtype)
        dur = self.path / "durations.bin"
        if dur.is_file() and dur.stat().st_size != 2 * n:
            raise UserError(f"{dur}: {dur.stat().st_size} bytes, expected {2 * n} (one uint16 per token); "
                            "the shards are damaged, rebuild them")
        self.durations_flat = (np.memmap(dur, dtype=np.uint16, mode="r")
                               if dur.is_file() and n else None)
        self.docs, lines = self._read_index()
        self.offsets = np.array([d["offset"] for d in self.docs], dtype=np.int64)
        self.lengths = np.array([d["length"] for d in self.docs], dtype=np.int64)
        self.splits = np.array([d["split"] for d in self.docs])
        self._check_tiling(n, lines)
        if verify:
            self.verify()

    def _read_index(self) -> tuple[list[dict[str, Any]], list[int]]:
        index = self.path / "docs.jsonl"
        if not index.is_file():
            raise UserError(f"{index}: missing; rebuild these shards")
        docs, lines = [], []
        try:
            for n, doc in iter_jsonl(index):
                if (not isinstance(doc, dict) or not isinstance(doc.get("offset"), int)
                        or not isinstance(doc.get("length"), int) or not isinstance(doc.get("split"), str)
                        or "id" not in doc):
                    raise UserError(f"{index}:{n}: not a document entry (needs id, integer offset and length, "
                                    "split); the shards are damaged, rebuild them")
                docs.append(doc)
                lines.append(n)
        except UnicodeDecodeError:
            raise UserError(f"{index}: not UTF-8 text; the shards are damaged, rebuild them") from None
        documents = self.meta.get("documents")
        if documents is not None and len(docs) != documents:
            raise UserError(f"{index}: lists {len(docs)} documents but meta.json says {documents}; "
                            "the shards are damaged, rebuild them")
        return docs, lines

    def _check_tiling(self, n: int, lines: list[int]) -> None:
        """Documents lie back to back from offset 0 and end exactly at the end of tokens.bin."""
        index = self.path / "docs.jsonl"
        starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1])) if len(self.docs) else self.offsets
        bad = np.flatnonzero((self.offsets != starts) | (self.lengths < 0))
        if bad.size:
            i = int(bad[0])
            raise UserError(f"{index}:{lines[i]}: offset {self.offsets[i]} length {self.lengths[i]}, but the "
                            f"documents before it end at {starts[i]}; the index is damaged, rebuild the shards")
        covered = int(self.lengths.sum())
        if covered != n:
            raise UserError(f"{index}: documents cover {covered} tokens but tokens.bin holds {n}; "
                            "the index is damaged, rebuild the shards")

    def check_ids(self, ids: np.ndarray, where: str) -> np.ndarray:
        """`ids` unchanged when every id is inside the vocabulary; else a UserError naming `where`."""
        if ids.size and int(ids.max()) >= self.vocab_size:
            raise UserError(f"{self.path / 'tokens.bin'}: token id {int(ids.max())} in {where} is outside the "
                            f"vocabulary (size {self.vocab_size}); the shards are damaged, rebuild them")
        return ids

    def checksum_report(self) -> dict[str, bool]:
        """For each file with a sha256 in meta.json: does the file still match it?"""
        return {name: (self.path / name).is_file() and sha256_file(self.path / name) == digest
                for name, digest in (self.meta.get("checksums") or {}).items()}

    def bad_token_position(self, block: int = 1 << 24) -> int | None:
        """Position of the first token id outside the vocabulary (None when all are inside)."""
        for start in range(0, len(self.tokens), block):
            chunk = np.asarray(self.tokens[start:start + block])
            over = np.flatnonzero(chunk >= self.vocab_size)
            if over.size:
                return start + int(over[0])
        return None

    def verify(self) -> None:
        """Full check: every file's sha256 against meta.json and every token id against the vocabulary."""
        changed = [name for name, ok in self.checksum_report().items() if not ok]
        if changed:
            raise UserError(f"{self.path}: {', '.join(changed)} differ from the sha256 in meta.json (changed "
                            "since the shards were written); rebuild the shards, or skip this check with "
                            "--no-verify (train: data.verify=false)")
        pos = self.bad_token_position()
        if pos is not None:
            self.check_ids(np.asarray(self.tokens[pos:pos + 1]), f"position {pos}")

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
        return self.check_ids(np.asarray(self.tokens[o:o + n]), f"document {self.docs[i]['id']}")

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
