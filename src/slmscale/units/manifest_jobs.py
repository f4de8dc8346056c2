"""Running a per-utterance audio job over a manifest: loading, bad-file skipping, workers, progress.

Work is cut into small chunks of utterances; with `workers > 1` the chunks go to spawned processes
(each single-threaded) and come back in manifest order, so results never depend on scheduling.
The cache identity of a manifest is its sha256 plus each audio file's size and mtime (cheap to
check on every run; touching or replacing a file triggers a rebuild).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from slmscale.artifacts import sha256_file, sha256_json
from slmscale.data.manifest import ManifestEntry, audio_path
from slmscale.errors import UserError
from slmscale.progress import make_progress

CHUNK_FILES = 8
# Files longer than this are decoded in pieces, never whole, and their features come block by
# block (mfcc/logmel features equal the whole file's; hubert features are computed per piece).
STREAM_SECONDS = 120.0
PIECE_SECONDS = 30.0


def manifest_inputs(manifest: str | Path, entries: list[ManifestEntry]) -> dict[str, str]:
    """Cache identity of a manifest and the audio it points to (sizes + mtimes, not contents)."""
    stats = []
    for e in entries:
        p = audio_path(manifest, e)
        try:
            st = os.stat(p)
            stats.append([e.audio, st.st_size, st.st_mtime_ns])
        except OSError:
            stats.append([e.audio, None, None])
    return {"manifest": sha256_file(manifest), "audio_stat": sha256_json(stats)}


@dataclass
class Item:
    index: int
    key: str
    path: str
    seconds: float
    voice: str = ""


@dataclass
class Outcome:
    item: Item
    value: Any = None
    reason: str | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


# Worker-process state: built once per process by `_init`.
_STATE: dict[str, Any] = {}


def _init(factory: Callable[[], Callable], threads: int | None, mel_cache: dict | None = None) -> None:
    if threads is not None:
        # Before anything imports torch/BLAS-backed code that reads these at import time.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        from threadpoolctl import threadpool_limits

        _STATE["limits"] = threadpool_limits(threads)
    if mel_cache:
        from slmscale.units.encoder_base import MEL_CACHE

        MEL_CACHE.update(mel_cache)
    _STATE["job"] = factory()


def load_wav(path: str | Path, min_samples: int = 1) -> np.ndarray:
    """Whole file at 16 kHz mono float32; AudioError (a UserError) with a reason for bad files."""
    from slmscale.audio.io import load_audio

    return check_length(load_audio(path), min_samples, path)


def check_length(wav: np.ndarray, min_samples: int, path: str | Path) -> np.ndarray:
    """`wav`, or AudioError when it is shorter than an encoder needs."""
    from slmscale.audio.io import AudioError

    if len(wav) < min_samples:
        raise AudioError(f"too short ({len(wav)} samples at 16 kHz; the encoder needs >= {min_samples})", path)
    return wav


def iter_pieces(path: str | Path) -> Iterator[np.ndarray]:
    """A long file in ~PIECE_SECONDS pieces (constant memory)."""
    from slmscale.audio.io import iter_audio_chunks

    yield from iter_audio_chunks(path, chunk_seconds=PIECE_SECONDS)


class PieceSource:
    """Re-openable pieces of one long file; `samples` counts the last pass (16 kHz samples)."""

    def __init__(self, path: str | Path):
        self.path, self.samples = path, 0

    def __call__(self) -> Iterator[np.ndarray]:
        self.samples = 0
        for piece in iter_pieces(self.path):
            self.samples += len(piece)
            yield piece


def _join_blocks(blocks: Iterator[np.ndarray], dim: int) -> np.ndarray:
    out = list(blocks)
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def _run_chunk(items: list[Item]) -> list[Outcome]:
    return _STATE["job"](items)


def run_items(items: list[Item], factory: Callable[[], Callable[[list[Item]], list[Outcome]]],
              workers: int, description: str) -> Iterator[Outcome]:
    """Apply the job built by `factory()` to every item (in chunks); yields outcomes in item order.

    `factory` must be picklable (a module-level callable or functools.partial) when workers > 1.
    """
    chunks = [items[i:i + CHUNK_FILES] for i in range(0, len(items), CHUNK_FILES)]
    total = sum(it.seconds for it in items)
    with make_progress("audio-s") as prog:
        task = prog.add_task(description, total=total or None, rate="")

        def advance(outcomes: list[Outcome]) -> None:
            prog.update(task, advance=sum(o.item.seconds for o in outcomes))
            speed = prog.tasks[task].speed
            if speed:
                prog.update(task, rate=f"{speed:,.0f} audio-s/s")

        if workers <= 1 or len(chunks) <= 1:
            from threadpoolctl import threadpool_limits

            job = factory()
            # Per-utterance matrices are small: multi-threaded BLAS only adds spin-waiting
            # (4-8x slower on a busy machine), so numpy runs single-threaded here.
            with threadpool_limits(1, user_api="blas"):
                for chunk in chunks:
                    outcomes = job(chunk)
                    advance(outcomes)
                    yield from outcomes
            return
        from slmscale.units.encoder_base import MEL_CACHE

        ctx = get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                                 initargs=(factory, 1, dict(MEL_CACHE))) as pool:
            for outcomes in pool.map(_run_chunk, chunks):
                advance(outcomes)
                yield from outcomes


def manifest_items(manifest: str | Path, entries: list[ManifestEntry]) -> list[Item]:
    return [Item(i, e.id, str(audio_path(manifest, e)), float(e.duration), e.voice) for i, e in enumerate(entries)]


# Spectral features run at ~2000x real time per core in-process, while spawning a worker costs
# seconds of imports and every chunk crosses a pipe; a second process pays off only on long corpora
# (measured: on 3 h, 1 process beat 2 on a busy 2-core machine).
PARALLEL_MIN_SECONDS = 10 * 3600.0


def default_workers(total_seconds: float) -> int:
    if total_seconds < PARALLEL_MIN_SECONDS:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def bad_reason(err: Exception) -> str:
    """One-line reason for a skipped item."""
    reason = getattr(err, "reason", None)
    if reason:
        return str(reason)
    if isinstance(err, UserError):
        return str(err)
    return f"{type(err).__name__}: {err}".splitlines()[0]


def features_for_items(encoder: Any, items: list[Item],
                       reduce: Callable[[Iterator[np.ndarray], Item], Any] | None = None,
                       refuse: Callable[[Item], str | None] | None = None) -> list[Outcome]:
    """Features (value) per item, batched; bad files get a reason. Long files are decoded in
    pieces and their feature blocks go through `reduce(blocks, item)` (default: joined), so a
    caller that reduces each block (e.g. to units) never holds a long file's features. An item
    for which `refuse(item)` gives a reason is skipped with it, its audio unread."""
    from slmscale.audio.io import probe_audio

    outcomes = [Outcome(it) for it in items]
    pending: list[tuple[Outcome, np.ndarray]] = []
    for o in outcomes:
        o.reason = refuse(o.item) if refuse is not None else None
        if o.reason is not None:
            continue
        try:
            if probe_audio(o.item.path).duration > STREAM_SECONDS:
                source = PieceSource(o.item.path)
                blocks = encoder.feature_blocks(source)
                o.value = reduce(blocks, o.item) if reduce is not None else _join_blocks(blocks, encoder.dim)
                o.extra["streamed"] = True
                o.seconds = source.samples / 16000
            else:
                wav = load_wav(o.item.path, encoder.min_samples())
                o.seconds = len(wav) / 16000
                pending.append((o, wav))
        except Exception as err:  # every failure of one file is a skip with its reason
            o.reason = bad_reason(err)
    if pending:
        try:
            feats = encoder.features_batch([w for _, w in pending])
        except Exception:  # find which file broke the batch
            feats = []
            for o, w in pending:
                try:
                    feats.append(encoder.features(w))
                except Exception as err:
                    o.reason = bad_reason(err)
                    feats.append(None)
        for (o, _), f in zip(pending, feats):
            o.value = f
    return outcomes
