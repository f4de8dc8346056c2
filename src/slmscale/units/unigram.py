"""SentencePiece unigram over unit sequences: coarser speech tokens (Cuervo & Marxer's unigram arm).

Each unit id becomes one private-use Unicode character, so a document is a string with no spaces
and SentencePiece learns multi-unit pieces. Training reads only the "train" split; encoding keeps
every document's split/voice/source and sums unit durations into piece durations.

DIR layout: a shards directory (modality "unigram": ids 0..V-1 pieces, bos = V, eos = V + 1)
plus `unigram.model` (SentencePiece protobuf, no pickle) and `pieces.json` (the unit ids of each
piece, for readers without SentencePiece).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from pydantic import Field

from slmscale.artifacts import META, atomic_write_bytes, fingerprint, is_fresh, read_meta, write_json
from slmscale.config import StrictModel
from slmscale.data.shards import KIND as SHARDS_KIND
from slmscale.data.shards import Shards, ShardWriter
from slmscale.errors import UserError
from slmscale.progress import info, track

MODEL = "unigram.model"
PIECES = "pieces.json"
# The Basic Multilingual Plane's private-use area holds 6400 characters; larger k continue in
# supplementary plane 15 (65534 more).
_BMP_PUA, _BMP_PUA_SIZE, _PLANE15_PUA = 0xE000, 6400, 0xF0000
SENTENCE_UNITS = 2048  # training strings are cut to this many units (SentencePiece line limit)


class UnigramConfig(StrictModel):
    shards: str
    shards_fingerprint: str
    vocab_size: int = Field(ge=3)
    seed: int = 0
    max_train_units: int = Field(default=20_000_000, ge=1000)


def unit_char(u: int) -> str:
    return chr(_BMP_PUA + u if u < _BMP_PUA_SIZE else _PLANE15_PUA + u - _BMP_PUA_SIZE)


def char_unit(c: str) -> int:
    o = ord(c)
    return o - _BMP_PUA if o < _PLANE15_PUA else o - _PLANE15_PUA + _BMP_PUA_SIZE


def units_to_text(units: np.ndarray) -> str:
    return "".join(unit_char(int(u)) for u in units)


class UnigramTokenizer:
    """A trained unigram model over units: encode unit arrays to piece ids and back."""

    def __init__(self, model_bytes: bytes):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_proto=model_bytes)
        self.model_bytes = model_bytes
        self.vocab_size = self.sp.get_piece_size()
        # id 0 is <unk> (never produced: every unit is a piece); others are unit strings.
        self.piece_units = [np.array([], dtype=np.int64) if self.sp.is_unknown(i) or self.sp.is_control(i)
                            else np.array([char_unit(c) for c in self.sp.id_to_piece(i)], dtype=np.int64)
                            for i in range(self.vocab_size)]
        self.piece_lengths = np.array([len(p) for p in self.piece_units], dtype=np.int64)

    @classmethod
    def load(cls, path: str | Path) -> "UnigramTokenizer":
        return cls(Path(path).read_bytes())

    def encode(self, units: np.ndarray) -> np.ndarray:
        return self.encode_many([units])[0]

    def encode_many(self, docs: list[np.ndarray]) -> list[np.ndarray]:
        ids = self.sp.encode([units_to_text(d) for d in docs], out_type=int)
        return [np.asarray(x, dtype=np.int64) for x in ids]

    def decode(self, ids: np.ndarray) -> np.ndarray:
        parts = [self.piece_units[int(i)] for i in ids]
        if any(self.piece_lengths[int(i)] == 0 for i in ids):
            raise ValueError("sequence holds <unk>; the units were not covered by this unigram model")
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def piece_durations(self, ids: np.ndarray, unit_durations: np.ndarray) -> np.ndarray:
        """Frames per piece: the sum of its units' durations."""
        ends = np.cumsum(self.piece_lengths[ids])
        cum = np.concatenate(([0], np.cumsum(unit_durations)))
        return cum[ends] - cum[np.concatenate(([0], ends[:-1]))]


def _training_text(shards: Shards, max_units: int) -> Iterator[str]:
    budget = max_units
    for i in shards.indices("train"):
        doc = shards.doc(int(i))
        for start in range(0, len(doc), SENTENCE_UNITS):
            piece = doc[start:start + SENTENCE_UNITS]
            yield units_to_text(piece)
            budget -= len(piece)
            if budget <= 0:
                return


def train_unigram(shards: Shards, k: int, vocab_size: int, seed: int, max_units: int) -> bytes:
    import sentencepiece as spm

    if vocab_size < k + 1:
        raise UserError(f"--vocab-size {vocab_size}: must be at least k + 1 = {k + 1} "
                        f"(every one of the {k} units plus <unk> is a piece)")
    if not len(shards.indices("train")):
        raise UserError(f"{shards.path}: no 'train' documents to learn the unigram model from")
    # One line holding every unit guarantees each is a piece (so encoding never needs <unk>).
    lines = [units_to_text(np.arange(k)), *_training_text(shards, max_units)]
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, model_type="unigram",
            vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, add_dummy_prefix=False,
            remove_extra_whitespaces=False, normalization_rule_name="identity",
            split_by_unicode_script=False, split_by_number=False, split_by_whitespace=False,
            max_sentence_length=4 * SENTENCE_UNITS + 16, input_sentence_size=0,
            shuffle_input_sentence=False, num_threads=1, minloglevel=2)
    except RuntimeError as err:
        raise UserError(f"SentencePiece training failed: {str(err).splitlines()[0]}") from None
    return model.getvalue()


def build_unigram(shards_dir: str | Path, vocab_size: int, out: str | Path, seed: int = 0,
                  max_train_units: int = 20_000_000, force: bool = False, verify: bool = True) -> dict[str, Any]:
    """Train a unigram model on SHARDS' train split and re-encode every document into `out`.

    `verify` checks the source shards' sha256 and token ids first (`Shards.verify`)."""
    src = Shards(shards_dir, verify=verify)
    if src.meta.get("modality") != "units":
        raise UserError(f"{shards_dir}: expected unit shards (modality 'units'), found "
                        f"'{src.meta.get('modality')}'")
    k = int(src.meta["tokenizer"]["k"])
    out = Path(out)
    cfg = UnigramConfig(shards=str(src.path.resolve()), shards_fingerprint=src.meta["fingerprint"],
                        vocab_size=vocab_size, seed=seed, max_train_units=max_train_units)
    inputs = {"shards": src.meta["fingerprint"]}
    if not force and is_fresh(out, fingerprint(SHARDS_KIND, cfg.model_dump(mode="json"), inputs)):
        info(f"{out}: unigram shards are up to date; skipped")
        return read_meta(out, SHARDS_KIND)
    (out / META).unlink(missing_ok=True)

    info(f"training SentencePiece unigram (vocabulary {vocab_size}) on {src.split_tokens('train'):,} units")
    uni = UnigramTokenizer(train_unigram(src, k, vocab_size, seed, max_train_units))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / MODEL, uni.model_bytes)
    write_json(out / PIECES, [p.tolist() for p in uni.piece_units])
    v = uni.vocab_size
    tok_info = {**src.meta["tokenizer"], "unigram_path": str((out / MODEL).resolve()), "unigram_vocab": v,
                "source_shards": str(src.path.resolve())}
    has_dur = src.durations_flat is not None
    writer = ShardWriter(out, v + 2, {"bos": v, "eos": v + 1}, "unigram", tok_info, with_durations=has_dur)
    counts = np.zeros(v, dtype=np.int64)
    per_split_units: dict[str, int] = {}
    try:  # any failure (bad shards, full disk) removes the writer's temporaries
        batch = 256
        for start in track(range(0, len(src), batch), "unigram encode", unit="batch"):
            idx = range(start, min(start + batch, len(src)))
            for i, ids in zip(idx, uni.encode_many([src.doc(i) for i in idx])):
                d = src.docs[i]
                dur = uni.piece_durations(ids, src.doc_durations(i).astype(np.int64)) if has_dur else None
                extra = {key: val for key, val in d.items()
                         if key not in ("id", "offset", "length", "split", "voice", "source")}
                writer.add(ids, doc_id=d["id"], split=d["split"], voice=d.get("voice", ""),
                           source=d.get("source", ""), durations=dur, units=int(d["length"]), **extra)
                counts += np.bincount(ids, minlength=v)
                per_split_units[d["split"]] = per_split_units.get(d["split"], 0) + int(d["length"])
    except BaseException:
        writer.abort()
        raise
    tokens = int(counts.sum())
    ratio = src.meta["tokens"] / tokens if tokens else 0.0
    seconds = float(src.meta.get("audio_hours", 0.0)) * 3600
    stats = {"pieces": v, "source_tokens": int(src.meta["tokens"]), "compression_ratio": ratio,
             "source_tokens_per_split": per_split_units,
             "audio_hours": src.meta.get("audio_hours"),
             "tokens_per_second": tokens / seconds if seconds else None,
             "piece_usage": {"used": int((counts > 0).sum()), "k": v, "fraction": float((counts > 0).mean()),
                             "histogram": counts.tolist()},
             "mean_piece_units": float(src.meta["tokens"] / tokens) if tokens else 0.0}
    meta = writer.close(cfg, inputs, **stats)  # removes its temporaries itself if it fails
    info(f"{out}: {len(src)} documents, {src.meta['tokens']:,} units → {tokens:,} pieces "
         f"(compression ×{ratio:.2f}, vocabulary {v})")
    return meta
