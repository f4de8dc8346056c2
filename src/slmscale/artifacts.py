"""Self-describing, atomically written artifacts and the stage cache.

Every stage output directory holds a `meta.json`:
  {"kind": ..., "version": <package version>, "config": {...}, "inputs": {name: sha256},
   "fingerprint": sha256(kind+config+inputs), "created": iso time, ...stage stats}
A stage whose fingerprint matches the existing `meta.json` is skipped (see `is_fresh`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from slmscale import __version__

META = "meta.json"


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates 0600; give the file the permissions a plain open() would (0666 & ~umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(path)  # e.g. ENOSPC from write(): name the file in the one-line error
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy / torch arrays and scalars
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, dumps(obj))


def read_json(path: str | Path) -> Any:
    from slmscale.errors import UserError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line; a bad line is a UserError naming it."""
    from slmscale.errors import UserError

    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{n}: not valid JSON ({err.msg})") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=_json_default).encode()).hexdigest()


def fingerprint(kind: str, config: Any, inputs: dict[str, str] | None = None) -> str:
    """Identity of a stage's work: what it is, how it is configured, and what it reads."""
    return sha256_json({"kind": kind, "config": config, "inputs": inputs or {}})


def is_fresh(out_dir: str | Path, fp: str) -> bool:
    """True when `out_dir` holds a finished artifact made from the same fingerprint."""
    meta = Path(out_dir) / META
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("fingerprint") == fp
    except (OSError, json.JSONDecodeError):
        return False


def write_meta(out_dir: str | Path, kind: str, config: Any, inputs: dict[str, str] | None = None,
               **stats: Any) -> dict[str, Any]:
    """Write `meta.json` last, so its presence marks a finished artifact."""
    cfg = config.model_dump(mode="json") if hasattr(config, "model_dump") else config
    meta = {
        "kind": kind,
        "version": __version__,
        "config": cfg,
        "inputs": inputs or {},
        "fingerprint": fingerprint(kind, cfg, inputs),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **stats,
    }
    write_json(Path(out_dir) / META, meta)
    return meta


def read_meta(out_dir: str | Path, kind: str | None = None) -> dict[str, Any]:
    from slmscale.errors import UserError

    path = Path(out_dir) / META
    if not path.is_file():
        raise UserError(f"{out_dir}: no {META} here; is this a finished slmscale artifact?")
    meta = read_json(path)
    if kind is not None and meta.get("kind") != kind:
        raise UserError(f"{out_dir}: expected a '{kind}' artifact, found '{meta.get('kind')}'")
    return meta
