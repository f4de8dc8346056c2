"""How long texts last when spoken: per voice, in seconds, exactly as `tts` speaks them.

The benchmark builders balance the spoken length of good and bad members (the audit's
`length_seconds` baseline), which a phone count does not predict: stress, vowel length and
question intonation differ between words with as many phones. Measuring is cheap (espeak-ng
speaks a short sentence in a few ms), so the builders measure instead of modelling.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

from slmscale.audio.tts import BATCH_CHARS, SAMPLE_RATE, _worker_init, synthesize_batch
from slmscale.cpus import usable_cpus
from slmscale.errors import UserError
from slmscale.progress import track


def _time_batch(batch: list[tuple[str, str]]) -> list[float | str]:
    """Durations (s) of one engine run's texts, or the error reason per text."""
    return [res if isinstance(res, str) else len(res[0]) / SAMPLE_RATE for res in synthesize_batch(batch)]


def spoken_seconds(texts: Sequence[str], voices: Sequence[str], workers: int | None = None
                   ) -> list[tuple[float, ...]]:
    """Per text, its duration in each of `voices` (the length of the 16 kHz wav `tts` writes).
    Repeated texts are spoken once; raises UserError when a text cannot be spoken. The engine
    runs are spread over `workers` processes (default: the CPUs this process may use); the
    batches are fixed by the texts alone, so the durations do not depend on `workers`."""
    unique = sorted(set(texts))
    requests = [(t, v) for t in unique for v in voices]
    batches: list[list[tuple[str, str]]] = []
    size = 0
    for req in requests:  # one engine run per ~BATCH_CHARS of text, as synthesize_many does
        if not batches or size + len(req[0]) > BATCH_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(req)
        size += len(req[0])
    workers = max(1, min(workers or usable_cpus(), len(batches) or 1))
    pool = None
    if workers > 1:  # fork before the progress bar starts its thread (map submits every batch now)
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)
    try:
        timed = pool.map(_time_batch, batches) if pool is not None else map(_time_batch, batches)
        secs: dict[tuple[str, str], float] = {}
        for batch, got in zip(batches, track(timed, "timing candidates", total=len(batches), unit="batch")):
            for req, res in zip(batch, got):
                if isinstance(res, str):
                    raise UserError(f"cannot time {req[0][:40]!r} in voice {req[1]}: {res}")
                secs[req] = res
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return [tuple(secs[(t, v)] for v in voices) for t in texts]
