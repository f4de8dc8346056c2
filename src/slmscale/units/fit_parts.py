"""Sharded `units fit`: the feature extraction (the slow part) split into N jobs over contiguous
slices of the train utterances; k-means then runs once on the joined frames. Frames are sampled
per utterance with a seed taken from its id, so the joined sample, and the tokenizer, are the same
bytes as a single-process fit.

Part folder (`part_dir(OUT, i, N)` = OUT.parts/0000i-of-0000N):
  frames.safetensors   {"frames": float32 (n, dim), "counts": int64 sampled frames per utterance}
  part.json            kind "units-fit-part", written last: fit config, slice, per-utterance
                       seconds and frame counts, skipped files

Python API: fit_part(cfg, OUT, num_shards, shard_index) per job, then merge_fit(cfg, OUT, num_shards).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import atomic_write_bytes, fingerprint, read_json, sha256_file, write_json
from slmscale.data.manifest import read_manifest
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.units.encode_parts import check_shard_args, part_dir, shard_ranges
from slmscale.units.encoders import build_encoder
from slmscale.units.fit import FitConfig, Sample, fit_tokenizer, sample_items, train_entries
from slmscale.units.manifest_jobs import manifest_inputs

PART_KIND = "units-fit-part"
PART_FILE = "part.json"
FRAMES = "frames.safetensors"


def _ident(cfg: FitConfig, num_shards: int, shard_index: int, inputs: dict) -> str:
    return fingerprint(PART_KIND, {"fit": cfg.model_dump(mode="json"), "num_shards": num_shards,
                                   "shard_index": shard_index}, inputs)


def fit_part(cfg: FitConfig, out: str | Path, num_shards: int, shard_index: int, workers: int | None = None,
             force: bool = False) -> dict[str, Any]:
    """Sample the frames of slice `shard_index` of `num_shards` into `part_dir(out, ...)`."""
    from safetensors.numpy import save

    check_shard_args(num_shards, shard_index)
    if cfg.import_kmeans is not None:
        raise UserError("--import-kmeans needs no features; run it as one job, without --num-shards")
    entries = read_manifest(cfg.manifest)
    inputs = manifest_inputs(cfg.manifest, entries)
    folder = part_dir(out, shard_index, num_shards)
    fp = _ident(cfg, num_shards, shard_index, inputs)
    marker = folder / PART_FILE
    if not force and marker.is_file() and read_json(marker).get("fingerprint") == fp:
        info(f"{folder}: part {shard_index} of {num_shards} is up to date; skipped")
        return read_json(marker)
    marker.unlink(missing_ok=True)
    start, end = shard_ranges([e.duration for e in train_entries(entries)], num_shards)[shard_index]
    encoder = build_encoder(cfg.encoder)
    sample = sample_items(cfg, entries, encoder, workers, start, end)
    frames = (np.concatenate(sample.frames) if sample.frames
              else np.zeros((0, encoder.dim), np.float32)).astype(np.float32, copy=False)
    counts = np.array([len(f) for f in sample.frames], dtype=np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / FRAMES, save({"frames": np.ascontiguousarray(frames), "counts": counts}))
    record = {"kind": PART_KIND, "fingerprint": fp, "config": cfg.model_dump(mode="json"), "inputs": inputs,
              "num_shards": num_shards, "shard_index": shard_index, "items": [start, end],
              "seconds": sample.seconds, "frame_counts": sample.frame_counts, "skipped": sample.skipped,
              "frames_sha256": sha256_file(folder / FRAMES)}
    write_json(marker, record)
    info(f"{folder}: part {shard_index} of {num_shards}: utterances {start}..{end - 1}, "
         f"{len(frames):,} frames sampled, {len(sample.skipped)} skipped")
    return record


def _load_sample(cfg: FitConfig, out: Path, num_shards: int, inputs: dict) -> Sample:
    from safetensors.numpy import load_file

    sample = Sample()
    for i in range(num_shards):
        folder = part_dir(out, i, num_shards)
        if not (folder / PART_FILE).is_file():
            raise UserError(f"{folder}: not a finished fit part ({PART_FILE} missing); run "
                            f"`units fit ... --num-shards {num_shards} --shard-index {i}` first")
        rec = read_json(folder / PART_FILE)
        if rec.get("fingerprint") != _ident(cfg, num_shards, i, inputs):
            raise UserError(f"{folder}: made with another manifest, audio or fit options; re-run that part "
                            "with the same command line")
        if sha256_file(folder / FRAMES) != rec["frames_sha256"]:
            raise UserError(f"{folder / FRAMES}: changed since the part was written; re-run that part")
        tensors = load_file(str(folder / FRAMES))
        bounds = np.cumsum(np.concatenate([[0], tensors["counts"]]))
        sample.frames += [tensors["frames"][a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        sample.seconds += rec["seconds"]
        sample.frame_counts += rec["frame_counts"]
        sample.skipped += rec["skipped"]
    return sample


def merge_fit(cfg: FitConfig, out: str | Path, num_shards: int, allow_pickle: bool = False,
              force: bool = False) -> dict[str, Any]:
    """k-means on the joined frames of all `num_shards` parts; writes the tokenizer to `out`."""
    out = Path(out)
    inputs = manifest_inputs(cfg.manifest, read_manifest(cfg.manifest))
    return fit_tokenizer(cfg, out, allow_pickle=allow_pickle, force=force,
                         sample=lambda: _load_sample(cfg, out, num_shards, inputs))
