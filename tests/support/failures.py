"""Helpers for the failure-class tests: run the CLI in-process, check the one-line error, and
prove that nothing partial was left and nothing was written outside the output root."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

PARTIAL_MARKS = (".tmp", ".tmp-", ".final.tmp")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`slmscale ARGV` through the real entry point (error boundary included): (code, stdout, stderr)."""
    from slmscale.cli.main import main

    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as ex:
        code = int(ex.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code: int, err: str, *phrases: str, exit_code: int = 2) -> str:
    """Exit code as expected, no traceback, and exactly one `error:` line holding every phrase."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])
    assert code == exit_code, (code, err)
    return errors[0]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of every file and folder under `root`."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(folder) / name
            st = p.lstat()
            out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def changed_outside(before: dict, after: dict, inside: str) -> list[str]:
    """Paths that appeared, vanished or changed under the snapshot root but not under `inside`."""
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k)
                  and not (k == inside or k.startswith(inside.rstrip("/") + "/")))


def partials(root: Path) -> list[str]:
    """Temporary or half-written files a later stage could mistake for output."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            if any(mark in name for mark in PARTIAL_MARKS):
                found.append((Path(folder) / name).relative_to(root).as_posix())
    return found


def failing_fsync(code: int = errno.ENOSPC):
    """A stand-in for os.fsync that fails like a full (or read-only) disk would."""

    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    return fsync


def unit_shards(out: Path, k: int = 20, docs: int = 30, seed: int = 0) -> Path:
    """Small unit shards (modality "units", bos = k, eos = k + 1), 3 of every 10 docs valid."""
    from slmscale.data.shards import ShardWriter

    rng = np.random.default_rng(seed)
    w = ShardWriter(out, k + 2, {"bos": k, "eos": k + 1}, "units",
                    {"kind": "units", "path": "/nonexistent/tok", "k": k, "dedup": True, "frame_rate": 25.0,
                     "fingerprint": "test"}, with_durations=True)
    for i in range(docs):
        n = int(rng.integers(20, 60))
        toks = (int(rng.integers(0, k)) + np.arange(n)) % k
        w.add(toks, f"d{i}", split="valid" if i % 10 < 3 else "train", durations=np.ones(n, dtype=np.int64))
    w.close({"seed": seed})
    return out


def train_yaml(path: Path, shards: Path, out: Path, steps: int = 6, **over) -> Path:
    """A tiny CPU training config (1 layer, d=32) written to `path`; `over` sets dotted keys."""
    import yaml

    from slmscale.config import set_dotted

    cfg = {"seed": 0, "out": str(out), "data": {"shards": str(shards)},
           "model": {"preset": None, "n_layers": 1, "d_model": 32, "n_heads": 2, "ffn": 64},
           "budget": {"tokens": 128 * steps},
           "train": {"seq_len": 32, "batch_tokens": 128, "lr": 3e-3, "threads": 1, "peak_flops": 1e10},
           "eval": {"max_tokens": 256}, "log": {"interval_steps": 1},
           "checkpoint": {"interval_steps": 2, "keep": 3}}
    for key, val in over.items():
        set_dotted(cfg, key, val)
    path.write_text(yaml.safe_dump(cfg))
    return path
