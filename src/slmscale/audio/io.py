"""Reading audio safely: decode with soundfile, downmix, resample with soxr, refuse bad files.

Every failure a user can cause with a bad file (missing, unreadable, not audio, truncated, corrupt,
empty, NaN/inf samples) raises `AudioError` with a one-line reason, so batch stages can skip the file
and list it. Long files can be streamed (`iter_audio_chunks`, `verify_audio`) so an hour of audio is
never held in memory at once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from slmscale.errors import UserError

TARGET_SR = 16000
# soundfile/libsndfile decodes every PCM width (8/16/24/32-bit) and float/double to float32 in
# [-1, 1); soxr "HQ" is a proper band-limited resampler.
_RESAMPLE_QUALITY = "HQ"
# A RIFF data size that writers use when the length was unknown (streamed WAVs); not truncation.
_UNKNOWN_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF}
_DATA_SIZE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


class AudioError(UserError):
    """A bad audio file; `reason` is a short phrase fit for a skip list."""

    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(f"{path}: {reason}" if path is not None else reason)


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int
    duration: float
    subtype: str
    format: str = ""


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioError("file not found", path)
    if not path.is_file():
        raise AudioError("not a regular file", path)
    if not os.access(path, os.R_OK):
        raise AudioError("file is not readable (permission denied)", path)
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", path)


def _open_error(path: Path, err: Exception) -> AudioError:
    msg = str(err)
    if "Format not recognised" in msg or "unknown format" in msg.lower():
        return AudioError("not an audio file (format not recognised)", path)
    if "ermission" in msg:
        return AudioError("file is not readable (permission denied)", path)
    short = msg.split(":", 1)[-1].strip() if msg.startswith("Error opening") else msg
    return AudioError(f"corrupt or truncated audio ({short.strip().rstrip('.')})", path)


def probe_audio(path: str | Path) -> AudioInfo:
    """Read the header only: format, rate, channels, length; `AudioError` if it is not usable audio."""
    path = Path(path)
    _check_path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise _open_error(path, err) from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError("invalid header (no sample rate or channels)", path)
    if info.frames <= 0:
        raise AudioError("zero-length audio (no samples)", path)
    m = _DATA_SIZE.search(info.extra_info or "")
    if m and int(m.group(1)) not in _UNKNOWN_SIZES and int(m.group(1)) > int(m.group(2)):
        raise AudioError(f"truncated file (header says {m.group(1)} data bytes, only "
                         f"{m.group(2)} present)", path)
    return AudioInfo(sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames),
                     duration=float(info.frames) / info.samplerate, subtype=str(info.subtype),
                     format=str(info.format))


def _to_mono(block: np.ndarray) -> np.ndarray:
    return block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)


def _check_finite(block: np.ndarray, path: Path, offset: int, sr: int) -> None:
    finite = np.isfinite(block).all(axis=1)
    if not finite.all():
        first = offset + int(np.flatnonzero(~finite)[0])
        raise AudioError(f"contains NaN/inf samples (first at {first / sr:.3f} s)", path)


def _iter_native_blocks(path: Path, block_frames: int) -> Iterator[tuple[np.ndarray, AudioInfo]]:
    """Decoded mono float32 blocks at the file's own rate; checks finiteness and full length."""
    info = probe_audio(path)
    done = 0
    try:
        with sf.SoundFile(str(path)) as fh:
            while True:
                block = fh.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                _check_finite(block, path, done, info.sample_rate)
                done += block.shape[0]
                yield _to_mono(block), info
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"corrupt or truncated audio after {done / info.sample_rate:.2f} s "
                         f"({str(err).strip().rstrip('.')})", path) from None
    if done < info.frames:
        raise AudioError(f"truncated file (decoded {done} of {info.frames} frames)", path)


def load_audio(path: str | Path, target_sr: int = TARGET_SR) -> np.ndarray:
    """The whole file as float32 mono in [-1, 1] at `target_sr` (stereo is averaged)."""
    path = Path(path)
    info = probe_audio(path)
    blocks = [b for b, _ in _iter_native_blocks(path, max(info.frames, 1))]
    wav = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    if info.sample_rate != target_sr:
        wav = soxr.resample(wav, info.sample_rate, target_sr, quality=_RESAMPLE_QUALITY)
    return np.clip(wav, -1.0, 1.0).astype(np.float32, copy=False)


def iter_audio_chunks(path: str | Path, target_sr: int = TARGET_SR,
                      chunk_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Stream the file as consecutive float32 mono chunks of about `chunk_seconds` at `target_sr`.

    The resampler keeps its state across chunks, so the concatenation equals one continuous
    resampling. A file found bad part-way raises `AudioError` after the good chunks.
    """
    if chunk_seconds <= 0:
        raise ValueError("chunk_seconds must be positive")
    path = Path(path)
    info = probe_audio(path)
    block = max(1, int(round(chunk_seconds * info.sample_rate)))
    stream = None
    if info.sample_rate != target_sr:
        stream = soxr.ResampleStream(info.sample_rate, target_sr, 1, dtype="float32",
                                     quality=_RESAMPLE_QUALITY)
    for mono, _ in _iter_native_blocks(path, block):
        out = mono if stream is None else stream.resample_chunk(mono, last=False)
        if out.size:
            yield np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
    if stream is not None:
        tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if tail.size:
            yield np.clip(tail, -1.0, 1.0).astype(np.float32, copy=False)


def verify_audio(path: str | Path, chunk_seconds: float = 60.0) -> AudioInfo:
    """Decode the whole file in chunks (constant memory) to prove it is intact; returns its info."""
    path = Path(path)
    info = probe_audio(path)
    block = max(1, int(chunk_seconds * info.sample_rate))
    for _ in _iter_native_blocks(path, block):
        pass
    return info
