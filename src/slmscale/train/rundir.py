"""A run dir's identity and lock: which config made it, whether it already finished, and one
training process at a time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import yaml

from slmscale.artifacts import META, read_json
from slmscale.errors import UserError
from slmscale.locks import LOCK, exclusive
from slmscale.train.config import TrainConfig

# Config sections whose change makes an existing run dir a different run.
IDENTITY_KEYS = ("seed", "data", "model", "budget", "train")
# ...except these keys, which change how the run is checked, not what it trains.
NOT_IDENTITY = {"data": ("verify",)}


def _identity(dumped: dict[str, Any]) -> dict[str, Any]:
    out = {k: dumped.get(k) for k in IDENTITY_KEYS}
    for section, keys in NOT_IDENTITY.items():
        if isinstance(out.get(section), dict):
            out[section] = {k: v for k, v in out[section].items() if k not in keys}
    return out


def _first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _first_difference(a.get(k), b.get(k), f"{prefix}{k}.")
            if d:
                return d
        return None
    return None if a == b else f"{prefix.rstrip('.')}: {b!r} here vs {a!r} in the run dir"


def check_run_dir(run: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """Refuse a run dir made by a different config; return its summary if already finished."""
    saved = run / "config.yaml"
    if not saved.is_file():
        return None
    try:
        old = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"{saved}: damaged ({str(err).splitlines()[0]}); "
                        "restore it or delete the run folder") from None
    if not isinstance(old, dict):
        raise UserError(f"{saved}: not a config mapping; restore it or delete the run folder")
    diff = _first_difference(_identity(old), _identity(cfg.model_dump(mode="json")))
    if diff:
        raise UserError(f"{run} holds a run with a different config ({diff}); "
                        "use another --out or delete that folder")
    if (run / META).is_file() and (run / "summary.json").is_file():
        summary = read_json(run / "summary.json")
        if summary.get("status") == "finished":
            return summary
    return None


@contextlib.contextmanager
def locked_run_dir(run: Path) -> Iterator[None]:
    """Hold RUN/.lock (rank 0 of a distributed run takes it for all ranks). A run dir this call
    created and left holding only the lock (the run failed before writing) is removed again."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    created = not run.exists()
    try:
        with exclusive(run, "another training process"):
            yield
    finally:
        if created and run.is_dir() and {p.name for p in run.iterdir()} <= {LOCK}:
            with contextlib.suppress(OSError):
                (run / LOCK).unlink(missing_ok=True)
                run.rmdir()
