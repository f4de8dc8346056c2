"""How long texts last when spoken: per voice, in seconds, exactly as `tts` speaks them.

The benchmark builders balance the spoken length of good and bad members (the audit's
`length_seconds` baseline), which a phone count does not predict: stress, vowel length and
question intonation differ between words with as many phones. Measuring is cheap (espeak-ng
speaks a short sentence in a few ms), so the builders measure instead of modelling.
"""

from __future__ import annotations

from typing import Sequence

from slmscale.audio.tts import BATCH_CHARS, SAMPLE_RATE, synthesize_batch
from slmscale.errors import UserError
from slmscale.progress import track


def spoken_seconds(texts: Sequence[str], voices: Sequence[str]) -> list[tuple[float, ...]]:
    """Per text, its duration in each of `voices` (the length of the 16 kHz wav `tts` writes).
    Repeated texts are spoken once; raises UserError when a text cannot be spoken."""
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
    secs: dict[tuple[str, str], float] = {}
    for batch in track(batches, "timing candidates", unit="batch"):
        for req, res in zip(batch, synthesize_batch(batch)):
            if isinstance(res, str):
                raise UserError(f"cannot time {req[0][:40]!r} in voice {req[1]}: {res}")
            secs[req] = len(res[0]) / SAMPLE_RATE
    return [tuple(secs[(t, v)] for v in voices) for t in texts]
