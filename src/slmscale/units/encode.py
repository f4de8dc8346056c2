"""`units encode`: manifest audio → unit token shards (one document per utterance).

Splits: entries the manifest marks "valid"/"test" keep that split; of the "train" entries, those
spoken by a `valid_voices` voice and a seeded `valid_fraction` of the rest (chosen by document id,
independent of manifest order) become "valid". Bad audio is skipped, counted and listed in meta.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from pydantic import Field

from slmscale.artifacts import META, fingerprint, is_fresh, read_meta
from slmscale.config import StrictModel
from slmscale.data.manifest import ManifestEntry, read_manifest
from slmscale.data.shards import KIND as SHARDS_KIND
from slmscale.data.shards import ShardWriter
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.units.bundle import SpeechTokenizer
from slmscale.units.manifest_jobs import (Item, Outcome, default_workers, features_for_items, manifest_inputs,
                                          manifest_items, run_items)
from slmscale.units.kmeans import utterance_rng


class EncodeConfig(StrictModel):
    manifest: str
    tokenizer: str
    tokenizer_fingerprint: str
    dedup: bool = True
    valid_fraction: float = Field(default=0.02, ge=0.0, le=0.5)
    valid_voices: list[str] = Field(default_factory=list)
    seed: int = 0


class _EncodeJob:
    def __init__(self, tok_dir: str, dedup: bool, tokenizer: SpeechTokenizer | None = None,
                 voices: tuple[dict, dict] | None = None):
        self.tok = tokenizer or SpeechTokenizer.load(tok_dir)
        if voices is not None:  # a worker process gets the parent's voice statistics
            self.tok.voices, self.tok.voice_problems = voices
        self.dedup = dedup

    def _stream_units(self, blocks: Iterator[np.ndarray], item: Item) -> np.ndarray:
        """A long file's frame units, block by block (its features are never held whole)."""
        units = [self.tok.frame_units(b, item.voice) for b in blocks]
        return np.concatenate(units) if units else np.zeros(0, dtype=np.int64)

    def __call__(self, items: list[Item]) -> list[Outcome]:
        # An utterance whose voice has no statistics is skipped before its audio is read.
        outcomes = features_for_items(self.tok.encoder, items, reduce=self._stream_units,
                                      refuse=lambda it: self.tok.voice_ready(it.voice))
        for o in outcomes:
            if o.value is None:
                continue
            if len(o.value) == 0:
                o.value, o.reason = None, "no feature frames (audio too short)"
                continue
            o.extra["frames"] = len(o.value)
            units = o.value if o.extra.get("streamed") else self.tok.frame_units(o.value, o.item.voice)
            o.value = self.tok.units_from_frames(units, self.dedup)
        return outcomes


def assign_splits(entries: list[ManifestEntry], valid_fraction: float, valid_voices: list[str],
                  seed: int) -> dict[str, str]:
    voices = set(valid_voices)
    splits: dict[str, str] = {}
    candidates = []
    for e in entries:
        if e.split != "train":
            splits[e.id] = e.split
        elif e.voice in voices:
            splits[e.id] = "valid"
        else:
            splits[e.id] = "train"
            candidates.append(e.id)
    n_valid = int(round(valid_fraction * len(candidates)))
    if valid_fraction > 0 and n_valid == 0 and len(candidates) >= 2:
        n_valid = 1
    # Rank by a seeded hash of the id: the choice does not depend on manifest order.
    ranked = sorted(candidates, key=lambda i: utterance_rng(seed, "valid:" + i).random())
    for doc_id in ranked[:n_valid]:
        splits[doc_id] = "valid"
    return splits


class Tally:
    """Stage stats summed document by document in manifest order, so a merge of sharded parts
    that replays the same documents in the same order reaches the same floats."""

    def __init__(self, k: int):
        self.counts = np.zeros(k, dtype=np.int64)
        self.seconds, self.frames = 0.0, 0
        self.skipped: list[dict[str, str]] = []

    def add(self, units: np.ndarray, seconds: float, frames: int) -> None:
        self.counts += np.bincount(np.asarray(units, dtype=np.int64), minlength=len(self.counts))
        self.seconds += seconds
        self.frames += frames

    def stats(self, n_entries: int) -> dict[str, Any]:
        tokens, k = int(self.counts.sum()), len(self.counts)
        used = int((self.counts > 0).sum())
        return {
            "audio_hours": self.seconds / 3600, "frames": self.frames,
            "tokens_per_second": tokens / self.seconds if self.seconds else 0.0,
            "tokens_per_frame": tokens / self.frames if self.frames else 0.0,
            "unit_usage": {"used": used, "k": k, "fraction": used / k, "histogram": self.counts.tolist()},
            "manifest_entries": n_entries, "n_skipped": len(self.skipped), "skipped": self.skipped,
        }


@dataclass
class EncodeJob:
    """Everything fixed before any audio is read: tokenizer, manifest, config, cache inputs, splits."""

    tok: SpeechTokenizer
    manifest: Path
    entries: list[ManifestEntry]
    cfg: EncodeConfig
    inputs: dict[str, str]
    splits: dict[str, str]

    @property
    def fingerprint(self) -> str:
        return fingerprint(SHARDS_KIND, self.cfg.model_dump(mode="json"), self.inputs)

    def writer(self, out: Path) -> ShardWriter:
        info_tok = {**self.tok.shard_info(), "dedup": self.cfg.dedup}
        return ShardWriter(out, self.tok.vocab_size, self.tok.special_tokens, "units", info_tok,
                           with_durations=self.cfg.dedup)


def prepare_encode(tok_dir: str | Path, manifest: str | Path, dedup: bool | None = None,
                   valid_fraction: float = 0.02, valid_voices: list[str] | None = None,
                   seed: int = 0) -> EncodeJob:
    tok = SpeechTokenizer.load(tok_dir)
    entries = read_manifest(manifest)
    use_dedup = tok.dedup if dedup is None else dedup
    cfg = EncodeConfig(manifest=str(Path(manifest).resolve()), tokenizer=str(tok.path),
                       tokenizer_fingerprint=tok.fingerprint(), dedup=use_dedup,
                       valid_fraction=valid_fraction, valid_voices=sorted(valid_voices or []), seed=seed)
    unknown = set(cfg.valid_voices) - {e.voice for e in entries}
    if unknown:
        raise UserError(f"--valid-voices: {', '.join(sorted(unknown))} not spoken in {manifest}")
    splits = assign_splits(entries, cfg.valid_fraction, cfg.valid_voices, seed)
    return EncodeJob(tok, Path(manifest), entries, cfg, manifest_inputs(manifest, entries), splits)


def encode_items(job: EncodeJob, start: int, end: int, writer: ShardWriter, tally: Tally,
                 workers: int | None = None, raw_seconds: bool = False) -> None:
    """Encode manifest entries start..end-1 in order into `writer`; bad files go to tally.skipped.
    `raw_seconds` also stores each document's unrounded duration (for a later exact merge)."""
    entries, tok = job.entries, job.tok
    if workers is None:
        workers = (1 if tok.config.encoder.name == "hubert"
                   else default_workers(sum(e.duration for e in entries[start:end])))
    _ = tok.encoder  # built here first: fails early on a bad checkpoint, and seeds workers' caches
    every = manifest_items(job.manifest, entries)
    items = every[start:end]
    # Voice statistics come from all of a voice's audio in the manifest, whichever slice is encoded.
    tok.adapt(every, {it.voice for it in items})
    factory = functools.partial(_EncodeJob, str(tok.path), job.cfg.dedup, None if workers > 1 else tok,
                                (tok.voices, tok.voice_problems) if workers > 1 else None)
    for o in run_items(items, factory, workers, "encode"):
        e = entries[o.item.index]
        if o.reason is not None:
            tally.skipped.append({"id": e.id, "audio": e.audio, "reason": o.reason})
            continue
        units, durations = o.value
        extra = {"seconds_raw": o.seconds} if raw_seconds else {}
        writer.add(units, doc_id=e.id, split=job.splits[e.id], voice=e.voice, source=e.id,
                   durations=durations if job.cfg.dedup else None, seconds=round(o.seconds, 4),
                   frames=o.extra["frames"], **extra)
        tally.add(units, o.seconds, o.extra["frames"])


def close_shards(writer: ShardWriter, tally: Tally, cfg: EncodeConfig, inputs: dict[str, str],
                 n_entries: int) -> dict[str, Any]:
    """meta.json of finished unit shards (the caller aborts the writer on error), plus the summary."""
    if not writer.docs:
        first = tally.skipped[0]["reason"] if tally.skipped else "no entries"
        raise UserError(f"{cfg.manifest}: no usable audio ({len(tally.skipped)} bad; first: {first})")
    stats = tally.stats(n_entries)
    meta = writer.close(cfg, inputs, **stats)
    for s in tally.skipped:
        info(f"skipped {s['id']} ({s['audio']}): {s['reason']}")
    used, k = stats["unit_usage"]["used"], stats["unit_usage"]["k"]
    info(f"{writer.out}: {meta['documents']} documents, {meta['tokens']:,} tokens, "
         f"{tally.seconds / 3600:.2f} h, {stats['tokens_per_second']:.1f} tokens/s of audio, "
         f"{used}/{k} units used, {len(tally.skipped)} skipped")
    return meta


def encode_manifest(tok_dir: str | Path, manifest: str | Path, out: str | Path, dedup: bool | None = None,
                    valid_fraction: float = 0.02, valid_voices: list[str] | None = None, seed: int = 0,
                    workers: int | None = None, force: bool = False) -> dict[str, Any]:
    """Write unit shards for `manifest` into `out` (or skip when fresh); returns the shards meta."""
    out = Path(out)
    job = prepare_encode(tok_dir, manifest, dedup, valid_fraction, valid_voices, seed)
    if not force and is_fresh(out, job.fingerprint):
        info(f"{out}: shards are up to date (same manifest, audio, tokenizer and config); skipped")
        return read_meta(out, SHARDS_KIND)
    (out / META).unlink(missing_ok=True)
    writer = job.writer(out)
    tally = Tally(job.tok.k)
    try:
        encode_items(job, 0, len(job.entries), writer, tally, workers)
        return close_shards(writer, tally, job.cfg, job.inputs, len(job.entries))
    except BaseException:
        writer.abort()
        raise
