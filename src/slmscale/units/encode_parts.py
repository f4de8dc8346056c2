"""Sharded `units encode`: N independent jobs each encode a contiguous slice of the manifest into a
part folder; a merge joins the parts into one shards folder with the same bytes (and the same
meta.json, up to its creation time) as a single-process encode.

Part folder (`part_dir(OUT, i, N)` = OUT.parts/0000i-of-0000N by default):
  tokens.bin, durations.bin, docs.jsonl   as in shards, docs with their unrounded `seconds_raw`
  part.json                               kind "units-encode-part", written last: the encode config
                                          and inputs (same for every part), the slice, skipped files

Python API (what a cluster executor calls per job, then once to merge):
  encode_part(tok_dir, manifest, OUT, num_shards, shard_index, ...)  -> part.json contents
  merge_parts(OUT, num_shards=N) or merge_parts(OUT, parts=[dir, ...])  -> shards meta
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import META, fingerprint, is_fresh, read_json, read_meta, sha256_file, write_json
from slmscale.data.shards import KIND as SHARDS_KIND
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.units.encode import EncodeConfig, Tally, close_shards, encode_items, prepare_encode

PART_KIND = "units-encode-part"
PART_FILE = "part.json"
FILES = ("tokens.bin", "durations.bin", "docs.jsonl")


def part_dir(out: str | Path, shard_index: int, num_shards: int) -> Path:
    """Default folder of part `shard_index` of `num_shards` for final shards `out`."""
    return Path(f"{Path(out)}.parts") / f"{shard_index:05d}-of-{num_shards:05d}"


def shard_ranges(durations: list[float], num_shards: int) -> list[tuple[int, int]]:
    """Contiguous [start, end) slices of the manifest with about equal audio each (some may be
    empty); a file goes to the slice its midpoint falls in."""
    d = np.asarray(durations, dtype=np.float64)
    if d.sum() <= 0:
        d = np.ones(len(d))
    mid = np.cumsum(d) - d / 2
    cuts = [int(np.searchsorted(mid, d.sum() * i / num_shards)) for i in range(num_shards)] + [len(d)]
    return [(cuts[i], cuts[i + 1]) for i in range(num_shards)]


def check_shard_args(num_shards: int, shard_index: int) -> None:
    if num_shards < 1:
        raise UserError(f"--num-shards {num_shards}: must be at least 1")
    if not 0 <= shard_index < num_shards:
        raise UserError(f"--shard-index {shard_index}: must be in 0..{num_shards - 1} for --num-shards {num_shards}")


def encode_part(tok_dir: str | Path, manifest: str | Path, out: str | Path, num_shards: int, shard_index: int,
                dedup: bool | None = None, valid_fraction: float = 0.02, valid_voices: list[str] | None = None,
                seed: int = 0, workers: int | None = None, force: bool = False,
                part: str | Path | None = None) -> dict[str, Any]:
    """Encode slice `shard_index` of `num_shards` into `part` (default `part_dir(out, ...)`)."""
    check_shard_args(num_shards, shard_index)
    job = prepare_encode(tok_dir, manifest, dedup, valid_fraction, valid_voices, seed)
    folder = Path(part) if part is not None else part_dir(out, shard_index, num_shards)
    start, end = shard_ranges([e.duration for e in job.entries], num_shards)[shard_index]
    ident = {"encode": job.cfg.model_dump(mode="json"), "num_shards": num_shards, "shard_index": shard_index}
    fp = fingerprint(PART_KIND, ident, job.inputs)
    marker = folder / PART_FILE
    if not force and marker.is_file() and read_json(marker).get("fingerprint") == fp:
        info(f"{folder}: part {shard_index} of {num_shards} is up to date; skipped")
        return read_json(marker)
    marker.unlink(missing_ok=True)
    writer = job.writer(folder)
    tally = Tally(job.tok.k)
    try:
        encode_items(job, start, end, writer, tally, workers, raw_seconds=True)
        writer.finish_files()
    except BaseException:
        writer.abort()
        raise
    record = {"kind": PART_KIND, "fingerprint": fp, "shards_fingerprint": job.fingerprint,
              "config": job.cfg.model_dump(mode="json"), "inputs": job.inputs, "num_shards": num_shards,
              "shard_index": shard_index, "items": [start, end], "manifest_entries": len(job.entries),
              "documents": len(writer.docs), "tokens": writer.offset, "skipped": tally.skipped,
              "vocab_size": writer.vocab_size, "special_tokens": writer.special_tokens,
              "tokenizer": writer.tokenizer, "dtype": writer.dtype.name,
              "checksums": {n: sha256_file(folder / n) for n in FILES if (folder / n).exists()}}
    write_json(marker, record)
    info(f"{folder}: part {shard_index} of {num_shards}: entries {start}..{end - 1}, "
         f"{len(writer.docs)} documents, {writer.offset:,} tokens, {len(tally.skipped)} skipped")
    return record


def _read_parts(out: Path, parts: list[Path] | None, num_shards: int | None) -> list[tuple[Path, dict]]:
    if parts is None:
        root = Path(f"{out}.parts")
        if num_shards is not None:
            parts = [part_dir(out, i, num_shards) for i in range(num_shards)]
        else:
            parts = sorted(root.glob("*-of-*")) if root.is_dir() else []
        if not parts:
            raise UserError(f"{root}: no encoded parts found; run `slmscale units encode --num-shards N "
                            f"--shard-index I --out {out}` for every I first")
    read = []
    for p in parts:
        p = Path(p)
        if not (p / PART_FILE).is_file():
            raise UserError(f"{p}: not a finished encode part ({PART_FILE} missing); (re)run its "
                            "`units encode --shard-index` job")
        rec = read_json(p / PART_FILE)
        if rec.get("kind") != PART_KIND:
            raise UserError(f"{p / PART_FILE}: kind {rec.get('kind')!r}, expected {PART_KIND!r}")
        read.append((p, rec))
    read.sort(key=lambda pr: pr[1]["shard_index"])
    first = read[0][1]
    n = first["num_shards"]
    for p, rec in read:
        if rec["shards_fingerprint"] != first["shards_fingerprint"] or rec["num_shards"] != n:
            raise UserError(f"{p}: made with another manifest, tokenizer, config or --num-shards than "
                            f"{read[0][0]}; re-encode the parts with one command line")
    have = [rec["shard_index"] for _, rec in read]
    if have != list(range(n)):
        missing = sorted(set(range(n)) - set(have))
        extra = sorted(i for i in set(have) if have.count(i) > 1)
        raise UserError(f"parts of {out}: need shard indices 0..{n - 1} once each; "
                        f"missing {missing or 'none'}, repeated {extra or 'none'}")
    for p, rec in read:
        for name, digest in rec["checksums"].items():
            if sha256_file(p / name) != digest:
                raise UserError(f"{p / name}: changed since the part was written; re-run that part")
    return read


def merge_parts(out: str | Path, parts: list[str | Path] | None = None, num_shards: int | None = None,
                force: bool = False) -> dict[str, Any]:
    """Join encoded parts (all `num_shards` of them, in shard order) into the shards folder `out`."""
    out = Path(out)
    read = _read_parts(out, None if parts is None else [Path(p) for p in parts], num_shards)
    first = read[0][1]
    cfg = EncodeConfig.model_validate(first["config"])
    if not force and is_fresh(out, first["shards_fingerprint"]):
        info(f"{out}: shards are up to date (same parts); skipped")
        return read_meta(out, SHARDS_KIND)
    (out / META).unlink(missing_ok=True)
    from slmscale.data.shards import ShardWriter

    writer = ShardWriter(out, first["vocab_size"], first["special_tokens"], "units", first["tokenizer"],
                         with_durations=cfg.dedup)
    tally = Tally(int(first["tokenizer"]["k"]))
    try:
        for p, rec in read:
            _replay(p, rec, writer, tally, cfg.dedup)
        return close_shards(writer, tally, cfg, first["inputs"], first["manifest_entries"])
    except BaseException:
        writer.abort()
        raise


def _replay(folder: Path, rec: dict, writer: Any, tally: Tally, dedup: bool) -> None:
    """Add one part's documents (and skipped files) in order, as the single process would have."""
    dtype = np.dtype(rec["dtype"])
    tokens, durations = _mapped(folder / "tokens.bin", dtype), None
    if dedup:
        durations = _mapped(folder / "durations.bin", np.dtype(np.uint16))
    with open(folder / "docs.jsonl", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    if sum(d["length"] for d in docs) != len(tokens):
        raise UserError(f"{folder}: docs.jsonl and tokens.bin disagree; re-run that part")
    for d in docs:
        o, n = d.pop("offset"), d.pop("length")
        seconds = d.pop("seconds_raw")
        doc_id, split, voice, source = d.pop("id"), d.pop("split"), d.pop("voice"), d.pop("source")
        units = tokens[o:o + n]
        writer.add(units, doc_id=doc_id, split=split, voice=voice, source=source,
                   durations=None if durations is None else durations[o:o + n], **d)
        tally.add(units, seconds, d["frames"])
    tally.skipped.extend(rec["skipped"])


def _mapped(path: Path, dtype: np.dtype) -> np.ndarray:
    """The file as a read-only array, memory-mapped (never read whole)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r")
