"""`data import` / `data export`: unit shards from other tools' unit files and Hugging Face datasets,
and shards written as a `datasets` dataset (save_to_disk) that imports back to the same shards.

Imported shards hold ids 0..k-1 plus bos = k, eos = k + 1, like `units encode` output, so they
train as they are; with no speech tokenizer behind them, spoken benchmarks cannot be encoded for
them (train and score on shards you encode yourself for that).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import numpy as np
from pydantic import Field

from slmscale.artifacts import fingerprint, is_fresh, read_meta, sha256_file, sha256_json, write_meta
from slmscale.config import StrictModel
from slmscale.data.interop_read import (EXPORT_KEY, Record, detect_format, open_dataset, record_source,
                                        require_datasets)
from slmscale.data.shards import KIND as SHARDS_KIND
from slmscale.data.shards import Shards, ShardWriter
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.units.dedup import dedup as dedup_units
from slmscale.units.dedup import expand

EXPORT_KIND = "units-dataset"


class ImportConfig(StrictModel):
    source: str
    format: str
    column: str | None = None
    id_column: str | None = None
    k: int | None = Field(default=None, ge=2, le=65534)
    dedup: bool = False
    frame_rate: float | None = Field(default=None, gt=0)
    valid_fraction: float = Field(default=0.02, ge=0.0, le=0.5)
    seed: int = 0


def _source_hash(path: Path) -> str:
    if path.is_file():
        return sha256_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return sha256_json([[str(p.relative_to(path)), sha256_file(p)] for p in files])


def _prepared(records: Iterator[Record], dedup: bool) -> Iterator[Record]:
    for r in records:
        if dedup:
            frames = r.units if r.durations is None else expand(r.units, r.durations)
            r.units, r.durations = dedup_units(frames)
        yield r


def _scan(source: Any, cfg: ImportConfig) -> tuple[int, list[Record], bool]:
    """First pass: the unit count, each record's identity (no units kept) and whether every record
    carries durations; checks ids are unique."""
    top, seen, light, all_durations = -1, set(), [], True
    for r in _prepared(source(), cfg.dedup):
        if r.id in seen:
            raise UserError(f"{cfg.source}: document id {r.id!r} appears twice; ids must be unique")
        seen.add(r.id)
        if r.units.size:
            top = max(top, int(r.units.max()))
        all_durations &= r.durations is not None
        light.append(Record(r.id, np.zeros(0, np.int64), None, r.split, r.voice))
    if not light:
        raise UserError(f"{cfg.source}: no unit sequences found")
    return top, light, all_durations


def import_units(src: str | Path, out: str | Path, fmt: str = "auto", column: str | None = None,
                 id_column: str | None = None, k: int | None = None, dedup: bool = False,
                 frame_rate: float | None = None, valid_fraction: float = 0.02, seed: int = 0,
                 force: bool = False) -> dict[str, Any]:
    """Write unit shards from `src` (unit file or datasets folder) into `out`; returns their meta."""
    from slmscale.units.encode import assign_splits

    src, out = Path(src), Path(out)
    fmt = detect_format(src) if fmt == "auto" else fmt
    cfg = ImportConfig(source=str(src.resolve()), format=fmt, column=column, id_column=id_column, k=k,
                       dedup=dedup, frame_rate=frame_rate, valid_fraction=valid_fraction, seed=seed)
    inputs = {"source": _source_hash(src)}
    if not force and is_fresh(out, fingerprint(SHARDS_KIND, cfg.model_dump(mode="json"), inputs)):
        info(f"{out}: shards are up to date (same source and options); skipped")
        return read_meta(out, SHARDS_KIND)
    source = record_source(src, fmt, column, id_column)
    top, light, with_durations = _scan(source, cfg)
    exported = _exported_meta(src) if fmt == "hf" else None
    modality = "units"
    if exported is not None:
        vocab, specials, tokenizer = exported["vocab_size"], exported["special_tokens"], exported["tokenizer"]
        n_units = min(specials.values()) if specials else vocab
        modality = exported.get("modality") or modality
    else:
        n_units = k if k is not None else top + 1
        if n_units < 2:
            raise UserError(f"{src}: found units 0..{top}; give the unit count with --k")
        vocab, specials = n_units + 2, {"bos": n_units, "eos": n_units + 1}
        tokenizer = {"kind": "units", "path": None, "k": n_units, "dedup": dedup or with_durations,
                     "frame_rate": frame_rate, "fingerprint": inputs["source"], "source": "import"}
    if top >= n_units:
        raise UserError(f"{src}: unit id {top} is out of range for {n_units} units (--k {n_units}); "
                        "give the tokenizer's unit count with --k")
    # Documents that name their split keep it; the others are train, less a seeded valid_fraction.
    unnamed = [SimpleNamespace(id=r.id, split="train", voice=r.voice) for r in light if r.split is None]
    splits = {**assign_splits(unnamed, valid_fraction, [], seed), **{r.id: r.split for r in light if r.split}}
    (out / "meta.json").unlink(missing_ok=True)
    writer = ShardWriter(out, vocab, specials, modality, tokenizer, with_durations=with_durations)
    counts = np.zeros(vocab, dtype=np.int64)
    try:
        for r in _prepared(source(), dedup):
            writer.add(r.units, doc_id=r.id, split=splits[r.id], voice=r.voice, source=r.source,
                       durations=r.durations if with_durations else None, **r.extra)
            counts += np.bincount(r.units, minlength=vocab)
        used = int((counts[:n_units] > 0).sum())
        meta = writer.close(cfg, inputs, unit_usage={"used": used, "k": n_units, "fraction": used / n_units,
                                                     "histogram": counts[:n_units].tolist()})
    except BaseException:
        writer.abort()
        raise
    info(f"{out}: {meta['documents']:,} documents, {meta['tokens']:,} tokens imported from {src} "
         f"({fmt}; {used}/{n_units} units used)")
    return meta


def _exported_meta(path: Path) -> dict | None:
    from slmscale.data.interop_read import export_info

    return export_info(open_dataset(path)[0][1])


def export_shards(shards: str | Path, out: str | Path, force: bool = False) -> dict[str, Any]:
    """Write `shards` as a Hugging Face dataset folder (save_to_disk): one row per document with
    its fields and a `units` column (+ `durations`); returns the export's meta."""
    datasets = require_datasets()
    s = Shards(shards)
    if s.meta.get("modality") not in ("units", "unigram"):
        raise UserError(f"{shards}: export writes unit shards; these are {s.meta.get('modality')!r}")
    out = Path(out)
    cfg = {"shards": str(Path(shards).resolve())}
    inputs = {"shards": s.meta.get("fingerprint", "")}
    if not force and is_fresh(out, fingerprint(EXPORT_KIND, cfg, inputs)):
        info(f"{out}: export is up to date; skipped")
        return read_meta(out, EXPORT_KIND)
    has_dur = s.durations_flat is not None
    extra_keys: list[str] = []
    for d in s.docs:
        extra_keys += [key for key in d if key not in ("offset", "length") and key not in extra_keys]

    def rows() -> Iterator[dict[str, Any]]:
        for i, d in enumerate(s.docs):
            row = {key: d.get(key) for key in extra_keys}
            row["units"] = s.doc(i).astype(np.int32)
            if has_dur:
                row["durations"] = s.doc_durations(i).astype(np.int32)
            yield row

    seq = getattr(datasets, "List", datasets.Sequence)
    ds = datasets.Dataset.from_list(list(rows())) if s.docs else datasets.Dataset.from_dict({})
    ds = ds.cast_column("units", seq(datasets.Value("int32")))
    keep = ("vocab_size", "special_tokens", "tokenizer", "modality", "dtype")
    ds.info.description = json.dumps({EXPORT_KEY: {key: s.meta.get(key) for key in keep}})
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.save_to_disk(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    meta = write_meta(out, EXPORT_KIND, cfg, inputs, documents=len(s.docs), tokens=int(s.meta["tokens"]),
                      columns=list(ds.column_names))
    info(f"{out}: {len(s.docs):,} documents as a Hugging Face dataset (load with datasets.load_from_disk)")
    return meta
