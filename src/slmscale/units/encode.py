"""`units encode`: manifest audio → unit token shards (one document per utterance).

Splits: entries the manifest marks "valid"/"test" keep that split; of the "train" entries, those
spoken by a `valid_voices` voice and a seeded `valid_fraction` of the rest (chosen by document id,
independent of manifest order) become "valid". Bad audio is skipped, counted and listed in meta.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

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
    def __init__(self, tok_dir: str, dedup: bool, tokenizer: SpeechTokenizer | None = None):
        self.tok = tokenizer or SpeechTokenizer.load(tok_dir)
        self.dedup = dedup

    def __call__(self, items: list[Item]) -> list[Outcome]:
        outcomes = features_for_items(self.tok.encoder, items)
        for o in outcomes:
            if o.value is None:
                continue
            if len(o.value) == 0:
                o.value, o.reason = None, "no feature frames (audio too short)"
                continue
            o.extra["frames"] = len(o.value)
            o.value = self.tok.units_from_features(o.value, self.dedup)
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


def encode_manifest(tok_dir: str | Path, manifest: str | Path, out: str | Path, dedup: bool | None = None,
                    valid_fraction: float = 0.02, valid_voices: list[str] | None = None, seed: int = 0,
                    workers: int | None = None, force: bool = False) -> dict[str, Any]:
    """Write unit shards for `manifest` into `out` (or skip when fresh); returns the shards meta."""
    out = Path(out)
    tok = SpeechTokenizer.load(tok_dir)
    entries = read_manifest(manifest)
    use_dedup = tok.dedup if dedup is None else dedup
    cfg = EncodeConfig(manifest=str(Path(manifest).resolve()), tokenizer=str(tok.path),
                       tokenizer_fingerprint=tok.fingerprint(), dedup=use_dedup,
                       valid_fraction=valid_fraction, valid_voices=sorted(valid_voices or []), seed=seed)
    unknown = set(cfg.valid_voices) - {e.voice for e in entries}
    if unknown:
        raise UserError(f"--valid-voices: {', '.join(sorted(unknown))} not spoken in {manifest}")
    inputs = manifest_inputs(manifest, entries)
    if not force and is_fresh(out, fingerprint(SHARDS_KIND, cfg.model_dump(mode="json"), inputs)):
        info(f"{out}: shards are up to date (same manifest, audio, tokenizer and config); skipped")
        return read_meta(out, SHARDS_KIND)
    (out / META).unlink(missing_ok=True)

    splits = assign_splits(entries, cfg.valid_fraction, cfg.valid_voices, seed)
    if workers is None:
        workers = (1 if tok.config.encoder.name == "hubert"
                   else default_workers(sum(e.duration for e in entries)))
    _ = tok.encoder  # built here first: fails early on a bad checkpoint, and seeds workers' caches
    factory = functools.partial(_EncodeJob, str(tok.path), use_dedup, None if workers > 1 else tok)
    info_tok = {**tok.shard_info(), "dedup": use_dedup}
    writer = ShardWriter(out, tok.vocab_size, tok.special_tokens, "units", info_tok, with_durations=use_dedup)
    counts = np.zeros(tok.k, dtype=np.int64)
    skipped: list[dict[str, str]] = []
    seconds, frames = 0.0, 0
    try:
        for o in run_items(manifest_items(manifest, entries), factory, workers, "encode"):
            e = entries[o.item.index]
            if o.reason is not None:
                skipped.append({"id": e.id, "audio": e.audio, "reason": o.reason})
                continue
            units, durations = o.value
            writer.add(units, doc_id=e.id, split=splits[e.id], voice=e.voice, source=e.id,
                       durations=durations if use_dedup else None, seconds=round(o.seconds, 4),
                       frames=o.extra["frames"])
            counts += np.bincount(units, minlength=tok.k)
            seconds += o.seconds
            frames += o.extra["frames"]
        if not writer.docs:
            first = skipped[0]["reason"] if skipped else "no entries"
            raise UserError(f"{manifest}: no usable audio ({len(skipped)} bad; first: {first})")
    except BaseException:
        writer.abort()
        raise
    tokens = int(counts.sum())
    used = int((counts > 0).sum())
    stats = {
        "audio_hours": seconds / 3600, "frames": frames,
        "tokens_per_second": tokens / seconds if seconds else 0.0,
        "tokens_per_frame": tokens / frames if frames else 0.0,
        "unit_usage": {"used": used, "k": tok.k, "fraction": used / tok.k, "histogram": counts.tolist()},
        "manifest_entries": len(entries), "n_skipped": len(skipped), "skipped": skipped,
    }
    meta = writer.close(cfg, inputs, **stats)
    for s in skipped:
        info(f"skipped {s['id']} ({s['audio']}): {s['reason']}")
    info(f"{out}: {meta['documents']} documents, {tokens:,} tokens, {seconds / 3600:.2f} h, "
         f"{stats['tokens_per_second']:.1f} tokens/s of audio, {used}/{tok.k} units used, "
         f"{len(skipped)} skipped")
    return meta
