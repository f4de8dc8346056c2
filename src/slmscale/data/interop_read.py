"""Reading unit sequences made by other tools, one record per utterance.

Accepted sources:
- JSON lines, one object per utterance: the units as a list of ints or a string (`"12 5 7"`,
  `"12,5,7"`, or slamkit's `"<Un12><Un5><Un7>"`), under `units` (slamkit features files),
  `audio_repr` (slamkit token files), `hubert`, `codes` or `tokens` (or --column); optional
  per-unit frame counts under `duration`/`durations`; the id under `id`, `file_name`, `audio`,
  `file` or `path` (or --id-column); optional `split` and `voice`.
- text lines `ID|12 5 7` (fairseq/textlesslib speech2unit output), `ID<TAB>12 5 7`, or bare
  `12 5 7` (the id is then the line number).
- a Hugging Face `datasets` folder (`save_to_disk`; a DatasetDict's splits become shard splits)
  with a units column as above.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from slmscale.errors import UserError

UNIT_COLUMNS = ("units", "audio_repr", "hubert", "codes", "code", "tokens")
ID_COLUMNS = ("id", "file_name", "audio", "file", "path")
DURATION_COLUMNS = ("durations", "duration")
SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "dev": "valid", "test": "test"}
# Written by `data export` into the dataset's description: the source shards' vocabulary and
# tokenizer, so an exported dataset imports back to the same shards.
EXPORT_KEY = "slmscale_shards"
_SLAMKIT_UNIT = re.compile(r"<Un(\d+)>")


@dataclass
class Record:
    id: str
    units: np.ndarray
    durations: np.ndarray | None = None
    split: str | None = None
    voice: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def parse_units(value: Any, where: str) -> np.ndarray:
    """Unit ids from a list of ints or a unit string; a UserError naming `where` otherwise."""
    if isinstance(value, str):
        if "<Un" in value:
            items: list[Any] = _SLAMKIT_UNIT.findall(value)
            if len("".join(f"<Un{i}>" for i in items)) != len(re.sub(r"\s+", "", value)):
                raise UserError(f"{where}: unit string mixes <UnN> tokens with other text")
        else:
            items = [t for t in re.split(r"[\s,]+", value.strip()) if t]
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    else:
        raise UserError(f"{where}: units must be a list of integers or a unit string, got {type(value).__name__}")
    try:
        arr = np.array([int(x) for x in items], dtype=np.int64)
    except (TypeError, ValueError):
        raise UserError(f"{where}: units must be integers (found {str(items[:3])[:60]} ...)") from None
    if arr.size and arr.min() < 0:
        raise UserError(f"{where}: negative unit id {int(arr.min())}")
    return arr


def _pick(keys: Any, wanted: str | None, candidates: tuple[str, ...], what: str, where: str) -> str | None:
    if wanted is not None:
        if wanted not in keys:
            raise UserError(f"{where}: no {what} column {wanted!r} (has {', '.join(map(str, keys))})")
        return wanted
    return next((c for c in candidates if c in keys), None)


def _record(row: dict, where: str, units_col: str | None, id_col: str | None, fallback_id: str,
            keep_extra: bool) -> Record:
    ucol = _pick(row.keys(), units_col, UNIT_COLUMNS, "units", where)
    if ucol is None:
        raise UserError(f"{where}: no units column (looked for {', '.join(UNIT_COLUMNS)}); name it with --column")
    icol = _pick(row.keys(), id_col, ID_COLUMNS, "id", where)
    units = parse_units(row[ucol], where)
    dcol = next((c for c in DURATION_COLUMNS if isinstance(row.get(c), (list, tuple, np.ndarray))), None)
    durations = None
    if dcol is not None:
        durations = np.asarray(row[dcol], dtype=np.int64)
        if len(durations) != len(units) or (durations.size and durations.min() < 1):
            raise UserError(f"{where}: {dcol} must give a positive frame count per unit ({len(durations)} "
                            f"values for {len(units)} units)")
    split = row.get("split")
    if split is not None and str(split) not in SPLIT_NAMES:
        raise UserError(f"{where}: split {split!r} is not one of {', '.join(SPLIT_NAMES)}")
    doc_id = str(row[icol]) if icol is not None and row[icol] is not None else fallback_id
    used = {ucol, icol, dcol, "split", "voice", "source"}
    extra = {k: v for k, v in row.items() if k not in used and v is not None} if keep_extra else {}
    return Record(doc_id, units, durations, None if split is None else SPLIT_NAMES[str(split)],
                  str(row.get("voice") or ""), str(row.get("source") or doc_id), extra)


def _text_records(path: Path) -> Iterator[Record]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            text = line.rstrip("\n")
            if not text.strip():
                continue
            where = f"{path}:{n}"
            for sep in ("|", "\t"):
                if sep in text:
                    doc_id, units = text.split(sep, 1)
                    yield Record(doc_id.strip(), parse_units(units, where), source=doc_id.strip())
                    break
            else:
                yield Record(f"line{n}", parse_units(text, where), source=f"line{n}")


def _jsonl_records(path: Path, units_col: str | None, id_col: str | None) -> Iterator[Record]:
    from slmscale.artifacts import iter_jsonl

    for n, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise UserError(f"{path}:{n}: expected a JSON object per line")
        yield _record(row, f"{path}:{n}", units_col, id_col, f"line{n}", keep_extra=False)


def require_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise UserError("Hugging Face datasets support needs the `datasets` package: "
                        "pip install 'slmscale[hf]'") from None
    datasets.disable_progress_bars()
    return datasets


def export_info(ds: Any) -> dict | None:
    """The source shards' description stored by `data export`, if this dataset has one."""
    try:
        return json.loads(ds.info.description or "").get(EXPORT_KEY)
    except (ValueError, AttributeError):
        return None


def open_dataset(path: Path) -> list[tuple[str | None, Any]]:
    """[(split or None, Dataset)] of a `save_to_disk` folder."""
    datasets = require_datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as err:
        raise UserError(f"{path}: not a Hugging Face dataset saved with save_to_disk ({err})") from None
    if isinstance(loaded, datasets.DatasetDict):
        unknown = [s for s in loaded if s not in SPLIT_NAMES]
        if unknown:
            raise UserError(f"{path}: split {unknown[0]!r} is not one of {', '.join(SPLIT_NAMES)}")
        return [(SPLIT_NAMES[s], loaded[s]) for s in loaded]
    return [(None, loaded)]


def _dataset_records(path: Path, units_col: str | None, id_col: str | None) -> Iterator[Record]:
    for split, ds in open_dataset(path):
        keep = export_info(ds) is not None  # an slmscale export: every doc field comes back
        for n, row in enumerate(ds):
            rec = _record(row, f"{path}[{split or ''}{n}]", units_col, id_col, f"{split or 'row'}{n}", keep)
            if split is not None and rec.split is None:
                rec.split = split
            yield rec


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "hf"
    if not path.is_file():
        raise UserError(f"{path}: not found")
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = next((line for line in fh if line.strip()), "")
    return "jsonl" if first.lstrip().startswith("{") else "text"


def record_source(path: Path, fmt: str, units_col: str | None = None,
                  id_col: str | None = None) -> Callable[[], Iterator[Record]]:
    """A re-iterable source of records (each call reads the source again)."""
    if fmt == "hf":
        return lambda: _dataset_records(path, units_col, id_col)
    if units_col is not None or id_col is not None:
        if fmt == "text":
            raise UserError("--column/--id-column apply to JSON lines and datasets, not text unit files")
    if fmt == "jsonl":
        return lambda: _jsonl_records(path, units_col, id_col)
    if fmt == "text":
        return lambda: _text_records(path)
    raise UserError(f"--format {fmt}: choose auto, jsonl, text or hf")
