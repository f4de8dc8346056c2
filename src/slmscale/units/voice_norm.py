"""Per-voice feature whitening ("voice normalisation"), a textless speaker adaptation.

A tokenizer fitted with a `VoiceNorm` maps each frame's features f, spoken by voice v, to
(f - mean_v) @ W_v before projection and k-means, where mean_v and W_v = C_v^(-1/2) come from the
features of that voice's own audio (C_v: covariance shrunk towards its diagonal). A linear,
voice-specific shift and scaling of the features (vocal-tract length, channel) is undone, so
the units say less about who speaks. Only the voice label of each utterance is used, never a
transcript: the statistics are those of everything the voice says.

Which audio gives a voice's statistics: the utterances of that voice in the manifest (or
benchmark) being processed, ranked by a seeded hash of their ids and taken until `seconds` of
audio; so they do not depend on manifest order, sharding or worker count, and fitting and
encoding the same manifest use the same statistics. With `whole=True` every utterance of the
voice counts (`slmscale eval` does this by default: it encodes all of a benchmark anyway, and
which 180 s of a voice were used moved one LM's sWUGGY by up to 0.016). The statistics are
accumulated as running moments, so a voice's frames are never all held at once. A voice with less than
`min_seconds` of usable audio cannot be normalised: its utterances are skipped with that reason.
Utterances without a voice label form one group (voice "").

Measured in docs/units.md ("Voice normalisation").
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Iterator, Literal

import numpy as np
from pydantic import Field, model_validator

from slmscale.config import StrictModel
from slmscale.units.kmeans import utterance_rng
from slmscale.units.spectral import Moments, inverse_sqrt

Transform = tuple[np.ndarray, np.ndarray]  # (mean (dim,), matrix (dim, dim)), float32


class VoiceNorm(StrictModel):
    kind: Literal["whiten"] = "whiten"
    # Covariance shrunk this far towards its diagonal before inversion (0 = full covariance).
    shrink: float = Field(default=0.1, ge=0.0, le=1.0)
    seconds: float = Field(default=180.0, gt=0, description="at most this much audio per voice")
    min_seconds: float = Field(default=10.0, gt=0, description="less usable audio: the voice is skipped")
    seed: int = 0

    @model_validator(mode="after")
    def _enough(self) -> "VoiceNorm":
        if self.seconds < self.min_seconds:
            raise ValueError(f"seconds ({self.seconds:g}) is below min_seconds ({self.min_seconds:g}): "
                             "no voice could be normalised")
        return self


def whitening(frames_or_moments: np.ndarray | Moments, shrink: float) -> Transform:
    """Mean and C^(-1/2) of `frames` (n, dim), or of the frames a `Moments` (full) has summed;
    C is their unbiased covariance shrunk towards its diagonal."""
    m = frames_or_moments
    if not isinstance(m, Moments):
        m = Moments(np.shape(frames_or_moments)[1], full=True)
        m.add(np.asarray(frames_or_moments))
    cov = m.m2 / (m.n - 1)
    cov = (1.0 - shrink) * cov + shrink * np.diag(np.diag(cov))
    matrix = inverse_sqrt(cov, rel_floor=1e-8, abs_floor=1e-12)
    return m.mean.astype(np.float32), matrix.astype(np.float32)


def apply(feats: np.ndarray, transform: Transform) -> np.ndarray:
    mean, matrix = transform
    return ((np.asarray(feats, dtype=np.float32) - mean) @ matrix).astype(np.float32, copy=False)


def ranked_items(items: Iterable[Any], norm: VoiceNorm, voices: set[str] | None = None) -> dict[str, list[Any]]:
    """Per voice (of `voices`, default all), its items in the order their audio is used for its
    statistics: ranked by a seeded hash of the item key (so not by manifest order)."""
    by_voice: dict[str, list[Any]] = defaultdict(list)
    for it in items:
        if voices is None or it.voice in voices:
            by_voice[it.voice].append(it)
    return {voice: sorted(its, key=lambda it: (utterance_rng(norm.seed, "voice-norm:" + it.key).random(), it.key))
            for voice, its in sorted(by_voice.items())}


def voice_transforms(encoder: Any, items: Iterable[Any], norm: VoiceNorm, voices: set[str] | None = None,
                     *, whole: bool = False) -> tuple[dict[str, Transform], dict[str, str]]:
    """Whitening transforms for the voices of `items` (or only `voices`), and for each voice that
    cannot have one, the reason. Items are `manifest_jobs.Item`s (with `voice`). Each voice reads
    its ranked items until their listed durations reach `norm.seconds` (with `whole`, all of
    them); an unreadable file is passed over for the next one."""
    from threadpoolctl import threadpool_limits

    from slmscale.progress import track
    from slmscale.units.manifest_jobs import features_for_items

    ranked = ranked_items(items, norm, voices)
    rate = encoder.frame_rate
    budget = None if whole else int(norm.seconds * rate)
    need = int(np.ceil(norm.min_seconds * rate))

    def capped(blocks: Iterator[np.ndarray], _item: Any) -> np.ndarray:  # `seconds` per voice
        out, n = [], 0
        for b in blocks:  # a long file is read only as far as the budget needs
            out.append(b)
            n += len(b)
            if n >= budget:
                break
        return np.concatenate(out)[:budget] if out else np.zeros((0, encoder.dim), np.float32)

    def summed(blocks: Iterator[np.ndarray], _item: Any) -> int:
        n = 0
        for b in blocks:  # whole voices: a long file's blocks are summed as they are read
            moments.add(b)
            n += len(b)
        return n

    def seconds_of(it: Any) -> float:
        return it.seconds if it.seconds > 0 else norm.seconds  # unknown length: one file is enough

    transforms: dict[str, Transform] = {}
    problems: dict[str, str] = {}
    # One voice at a time, and its audio in pieces of about `seconds`: a voice's frames are
    # accumulated, never held (a corpus may have thousands of speakers, a benchmark hours each).
    with threadpool_limits(1, user_api="blas"):
        for voice, its in track(list(ranked.items()), "voice statistics", unit="voice"):
            moments, usable, pos = Moments(encoder.dim, full=True), 0.0, 0
            while (whole or usable < norm.seconds) and pos < len(its):
                # The next files whose listed seconds cover what is missing (all of them at once
                # when every file reads: the statistics of the first `seconds` of ranked audio).
                missing = norm.seconds if whole else norm.seconds - usable
                chunk, listed = [], 0.0
                while pos < len(its) and (not chunk or listed < missing):
                    listed += seconds_of(its[pos])
                    chunk.append(its[pos])
                    pos += 1
                for o in features_for_items(encoder, chunk, reduce=capped if budget is not None else summed):
                    if o.value is None:
                        continue
                    if isinstance(o.value, np.ndarray):  # a short file's frames (or a long one's, capped)
                        if not len(o.value):
                            continue
                        moments.add(o.value if budget is None else o.value[:max(budget - moments.n, 0)])
                    elif not o.value:  # a long file already summed, without frames
                        continue
                    usable += seconds_of(o.item)
            if moments.n < max(need, 2):
                problems[voice] = (f"voice {voice!r} has {moments.n / rate:.1f} s of usable audio; "
                                   f"voice normalisation needs at least {norm.min_seconds:g} s")
            else:
                transforms[voice] = whitening(moments, norm.shrink)
    return transforms, problems
