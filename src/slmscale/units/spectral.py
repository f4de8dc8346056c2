"""MFCC / log-mel features, computed block by block so that any length runs in constant memory.

The recipe per utterance: windowed frames -> power spectrum -> mel (dB) -> [DCT, drop c0,
whitening with the utterance covariance, deltas] -> CMVN with the utterance statistics -> context
stacking. Frame-local steps run on fixed blocks of FRAME_BLOCK frames (with the few neighbouring
frames that deltas and stacking need); the utterance statistics are summed over the same blocks in
an earlier pass. A whole waveform and the same audio streamed from a file in any piece sizes
therefore go through identical arithmetic and give identical features. Passes replay the frames
from memory when they are few, otherwise they decode the audio again.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from slmscale.units.encoder_base import SAMPLE_RATE, Encoder, EncoderConfig, mel_filters

FRAME_BLOCK = 1024            # frames per block (20 s at 50 Hz): FFT temporaries stay ~10 MB
KEEP_FRAMES = 1 << 14         # a pass is replayed from memory up to this many frames (5.5 min at 50 Hz)

Blocks = Callable[[], Iterator[np.ndarray]]


class Moments:
    """Running count, mean and sum of squared deviations (per dimension, or the full matrix),
    merged block by block in float64 (Chan et al.'s pairwise update)."""

    def __init__(self, dim: int, full: bool = False):
        self.n, self.full = 0, full
        self.mean = np.zeros(dim)
        self.m2 = np.zeros((dim, dim)) if full else np.zeros(dim)

    def add(self, x: np.ndarray) -> None:
        nb = len(x)
        if nb == 0:
            return
        x64 = x.astype(np.float64)
        mb = x64.mean(axis=0)
        c = x64 - mb
        m2b = c.T @ c if self.full else (c * c).sum(axis=0)
        delta, n = mb - self.mean, self.n + nb
        self.m2 += m2b + (np.outer(delta, delta) if self.full else delta * delta) * (self.n * nb / n)
        self.mean += delta * (nb / n)
        self.n = n


def whitening(m: Moments, prior_frames: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, C^(-1/2)) for C = the covariance shrunk towards its diagonal with `prior_frames`
    pseudo-frames; None for fewer than 2 frames (then the frames whiten to zeros)."""
    n = m.n
    if n < 2:
        return None
    cov = m.m2 / n
    cov = (n * cov + prior_frames * np.diag(np.diag(cov))) / (n + prior_frames)
    return m.mean, inverse_sqrt(cov, rel_floor=1e-6, abs_floor=1e-18)


def inverse_sqrt(cov: np.ndarray, rel_floor: float, abs_floor: float) -> np.ndarray:
    """C^(-1/2) of a symmetric covariance, by eigendecomposition. Eigenvalues are floored at
    max(rel_floor * largest, abs_floor), so a direction without variance (a constant feature) is
    not blown up. The whitening of every feature recipe (utterance, voice) goes through here."""
    values, vectors = np.linalg.eigh(cov)
    floor = max(rel_floor * float(values.max(initial=0.0)), abs_floor)
    return (vectors / np.sqrt(np.maximum(values, floor))) @ vectors.T


def apply_whitening(x: np.ndarray, w: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    if w is None:
        return np.zeros_like(x, dtype=np.float32)
    return ((x.astype(np.float64) - w[0]) @ w[1]).astype(np.float32)


def whiten_utterance(x: np.ndarray, prior_frames: float) -> np.ndarray:
    """(x - mean) @ C^(-1/2), C = the utterance covariance shrunk towards its diagonal:
    C = (n * S + m * diag(S)) / (n + m) for n frames and m = prior_frames (short utterances
    cannot estimate a full covariance; they fall back to per-dimension scaling)."""
    m = Moments(x.shape[1], full=True)
    if len(x) > FRAME_BLOCK:
        for i in range(0, len(x), FRAME_BLOCK):
            m.add(x[i:i + FRAME_BLOCK])
        return apply_whitening(x, whitening(m, prior_frames))
    # One block: Moments.add's arithmetic, keeping the centred frames for the output.
    x64 = x.astype(np.float64)
    m.n, m.mean = len(x), x64.mean(axis=0) if len(x) else m.mean
    centred = x64 - m.mean
    m.m2 = centred.T @ centred
    w = whitening(m, prior_frames)
    return np.zeros_like(x, dtype=np.float32) if w is None else (centred @ w[1]).astype(np.float32)


def halo_map(blocks: Iterable[np.ndarray], halo: int, fn: Callable[[np.ndarray], np.ndarray]) -> Iterator[np.ndarray]:
    """Apply a frame-local `fn` that maps (n + 2*halo, d) frames to the n middle ones, over a
    stream of blocks; the first and last frame of the whole stream are repeated at its ends."""
    buf = None
    for b in blocks:
        if len(b) == 0:
            continue
        buf = np.concatenate([np.repeat(b[:1], halo, axis=0), b]) if buf is None else np.concatenate([buf, b])
        ready = len(buf) - 2 * halo
        if ready > 0:
            yield fn(buf)
            buf = buf[ready:]
    if buf is not None:
        yield fn(np.concatenate([buf, np.repeat(buf[-1:], halo, axis=0)]))


def _deltas_valid(p: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas (the HTK formula) of the middle len(p) - 2*width frames of p."""
    n = len(p) - 2 * width
    num = sum(k * (p[width + k:width + k + n] - p[width - k:width - k + n]) for k in range(1, width + 1))
    return (num / (2 * sum(k * k for k in range(1, width + 1)))).astype(np.float32)


def _deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over ±width frames, edges repeated."""
    return _deltas_valid(np.pad(x, ((width, width), (0, 0)), mode="edge"), width)


def _stack_valid(p: np.ndarray, context: int) -> np.ndarray:
    n = len(p) - 2 * context
    return np.ascontiguousarray(np.concatenate([p[j:j + n] for j in range(2 * context + 1)], axis=1),
                                dtype=np.float32)


def stack_context(x: np.ndarray, context: int) -> np.ndarray:
    """Each frame joined with its `context` left and right neighbours (edges repeated):
    (n, d) -> (n, (2 * context + 1) * d), blocks ordered from frame t - context to t + context."""
    if context == 0:
        return x
    if len(x) == 0:
        return np.zeros((0, x.shape[1] * (2 * context + 1)), dtype=np.float32)
    return _stack_valid(np.pad(x, ((context, context), (0, 0)), mode="edge"), context)


def rechunk(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The same frames in blocks of exactly `size` (the last one shorter)."""
    held: list[np.ndarray] = []
    count = 0
    for b in blocks:
        held.append(b)
        count += len(b)
        while count >= size:
            joined = np.concatenate(held)
            yield joined[:size]
            held, count = [joined[size:]], count - size
    if count:
        yield np.concatenate(held)


def replayable(make: Blocks, keep: int) -> Blocks:
    """A block source that can be iterated again: from memory when the first pass held at most
    `keep` frames, else by calling `make` again."""
    cache: list[np.ndarray] | None = None

    def blocks() -> Iterator[np.ndarray]:
        nonlocal cache
        if cache is not None:
            yield from cache
            return
        kept: list[np.ndarray] | None = []
        held = 0
        for b in make():
            if kept is not None:
                held += len(b)
                kept = kept + [b] if held <= keep else None
            yield b
        if kept is not None:
            cache = kept

    return blocks


class SpectralEncoder(Encoder):
    """MFCC (+deltas) or log-mel frames, hop = 1 / frame_rate, Hann window of 1.25 hops, framed
    like librosa with centre zero-padding (checked in the tests against stored librosa output)."""

    def __init__(self, cfg: EncoderConfig):
        self.cfg = cfg
        self.frame_rate = int(cfg.frame_rate or 50)
        self.hop = SAMPLE_RATE // self.frame_rate
        self.win = self.hop * 5 // 4
        self.n_fft = 1 << (self.win - 1).bit_length()
        self.mel_basis = mel_filters(self.n_fft, cfg.n_mels)
        # A periodic Hann window of win samples, centred in n_fft (librosa's convention).
        hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.win) / self.win)
        self.window = np.zeros(self.n_fft, dtype=np.float32)
        left = (self.n_fft - self.win) // 2
        self.window[left:left + self.win] = hann
        self.is_mfcc = cfg.name == "mfcc"
        self.static_dim = (cfg.n_mfcc - cfg.drop_c0) if self.is_mfcc else cfg.n_mels
        self.dim = self.static_dim * (3 if self.is_mfcc and cfg.deltas else 1) * (2 * int(cfg.context or 0) + 1)

    def features(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        n_frames = 1 + len(wav) // self.hop
        if n_frames > FRAME_BLOCK:
            return self._join(self.feature_blocks(lambda: iter([wav])))
        # One block (most utterances): the block path's arithmetic without its generators.
        pad = self.n_fft // 2
        x = np.zeros(max(len(wav) + 2 * pad, (n_frames - 1) * self.hop + self.n_fft), dtype=np.float32)
        x[pad:pad + len(wav)] = wav
        out = self._static(self._frames(x, n_frames))
        cfg = self.cfg
        if self.is_mfcc and cfg.whiten_static is not None:
            out = whiten_utterance(out, cfg.whiten_static)
        if self.is_mfcc and cfg.deltas:
            d1 = _deltas(out)
            out = np.concatenate([out, d1, _deltas(d1)], axis=1)
        if cfg.cmvn:
            m = Moments(out.shape[1])
            m.add(out)
            mean, std = m.mean.astype(np.float32), np.sqrt(m.m2 / max(m.n, 1)).astype(np.float32)
            out = ((out - mean) / (std + 1e-5)).astype(np.float32)
        return stack_context(out, int(cfg.context or 0))

    def features_stream(self, pieces: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        held = list(pieces)
        return self._join(self.feature_blocks(lambda: iter(held))), sum(len(p) for p in held)

    def _join(self, blocks: Iterator[np.ndarray]) -> np.ndarray:
        out = list(blocks)
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def feature_blocks(self, open_pieces: Callable[[], Iterable[np.ndarray]]) -> Iterator[np.ndarray]:
        """Final feature blocks of the audio that `open_pieces()` yields (called once per pass)."""
        cfg = self.cfg
        static = replayable(lambda: self._static_blocks(open_pieces()), KEEP_FRAMES)
        w = None
        if self.is_mfcc and cfg.whiten_static is not None:
            m = Moments(self.static_dim, full=True)
            for b in static():
                m.add(b)
            w = whitening(m, cfg.whiten_static)

        def finished() -> Iterator[np.ndarray]:
            blocks: Iterable[np.ndarray] = static()
            if self.is_mfcc and cfg.whiten_static is not None:
                blocks = (apply_whitening(b, w) for b in blocks)
            if self.is_mfcc and cfg.deltas:
                d = self.static_dim
                blocks = halo_map(blocks, 2, lambda p: np.concatenate([p[2:-2], _deltas_valid(p)], axis=1))
                blocks = halo_map(blocks, 2, lambda p: np.concatenate([p[2:-2], _deltas_valid(p[:, d:])], axis=1))
            return iter(blocks)

        out: Iterable[np.ndarray] = finished()
        if cfg.cmvn:
            source = replayable(finished, KEEP_FRAMES)
            m = Moments(self.static_dim * (3 if self.is_mfcc and cfg.deltas else 1))
            for b in rechunk(source(), FRAME_BLOCK):  # sums over the same blocks however they came
                m.add(b)
            mean, std = m.mean.astype(np.float32), np.sqrt(m.m2 / max(m.n, 1)).astype(np.float32)
            out = (((b - mean) / (std + 1e-5)).astype(np.float32) for b in source())
        context = int(cfg.context or 0)
        if context:
            out = halo_map(out, context, lambda p: _stack_valid(p, context))
        yield from out

    def _static_blocks(self, pieces: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Static frames (log-mel dB, or MFCC without c0 if dropped) in blocks of FRAME_BLOCK,
        cut from a rolling buffer in the coordinates of the whole centre-padded recording."""
        pad = self.n_fft // 2
        buf = np.zeros(pad, dtype=np.float32)
        buf_start, next_frame, n = 0, 0, 0

        def take(upto: int) -> Iterator[np.ndarray]:
            nonlocal buf, buf_start, next_frame
            while upto - next_frame >= FRAME_BLOCK or (upto > next_frame and final):
                count = min(FRAME_BLOCK, upto - next_frame)
                offset = next_frame * self.hop - buf_start
                yield self._static(self._frames(buf[offset:], count))
                next_frame += count
            drop = next_frame * self.hop - buf_start
            buf, buf_start = buf[drop:], buf_start + drop

        final = False
        for piece in pieces:
            buf = np.concatenate([buf, np.asarray(piece, dtype=np.float32)])
            n += len(piece)
            yield from take((buf_start + len(buf) - self.n_fft) // self.hop + 1)
        total = 1 + n // self.hop
        need = (total - 1) * self.hop + self.n_fft - (buf_start + len(buf))
        buf = np.concatenate([buf, np.zeros(max(need, 0), dtype=np.float32)])
        final = True
        yield from take(total)

    def _frames(self, x: np.ndarray, n_frames: int) -> np.ndarray:
        """`n_frames` windows of n_fft samples, hop apart, starting at x[0] (a view, no copy)."""
        x = np.ascontiguousarray(x)
        return np.lib.stride_tricks.as_strided(
            x, shape=(n_frames, self.n_fft), strides=(x.strides[0] * self.hop, x.strides[0]), writeable=False)

    def _static(self, frames: np.ndarray) -> np.ndarray:
        """Log-mel (dB) or MFCC of windowed frames."""
        import scipy.fft

        spec = scipy.fft.rfft(frames * self.window, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        logmel = 10.0 * np.log10(np.maximum(power @ self.mel_basis.T, 1e-10))
        if not self.is_mfcc:
            return logmel.astype(np.float32)
        mfcc = scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, : self.cfg.n_mfcc]
        return np.ascontiguousarray(mfcc[:, 1:] if self.cfg.drop_c0 else mfcc, dtype=np.float32)
