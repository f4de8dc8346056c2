"""A folder of good and malformed audio files, for tests of every stage that reads audio.

`make_audio_zoo(root)` writes one file per kind the pipeline must survive and returns what each
should do: good files (with the mono 16 kHz duration expected after loading) and bad files (with a
phrase their skip reason must contain). Small and deterministic: about 1 MB in all.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float, sr: int, freq: float = 220.0, channels: int = 1, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels == 1:
        return mono
    # Channels differ so a downmix is observable: ch k has amplitude scaled by (k + 1) / channels.
    return np.stack([mono * (k + 1) / channels for k in range(channels)], axis=1)


def make_audio_zoo(root: str | Path) -> tuple[dict[str, float], dict[str, str]]:
    """Write the zoo into `root`; returns ({good file: duration s}, {bad file: reason phrase})."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    good: dict[str, float] = {}
    bad: dict[str, str] = {}

    def write(name: str, data: np.ndarray, sr: int, subtype: str | None = None,
              fmt: str | None = None) -> Path:
        sf.write(str(root / name), data, sr, subtype=subtype, format=fmt)
        return root / name

    # Good: every encoding, other rates, stereo.
    for name, sr, subtype, ch in [("pcm16_16k.wav", 16000, "PCM_16", 1),
                                  ("pcm_u8_8k.wav", 8000, "PCM_U8", 1),
                                  ("pcm24_48k.wav", 48000, "PCM_24", 1),
                                  ("pcm32_22k.wav", 22050, "PCM_32", 1),
                                  ("float32_16k.wav", 16000, "FLOAT", 1),
                                  ("double_16k.wav", 16000, "DOUBLE", 1),
                                  ("stereo_44k.wav", 44100, "PCM_16", 2),
                                  ("speech.flac", 16000, "PCM_16", 1)]:
        write(name, tone(1.0, sr, channels=ch), sr, subtype)
        good[name] = 1.0

    # Bad.
    (root / "empty.wav").write_bytes(b"")
    bad["empty.wav"] = "empty file"
    write("zero_frames.wav", np.zeros(0, np.float32), 16000, "PCM_16")
    bad["zero_frames.wav"] = "zero-length"
    (root / "notes.wav").write_text("these are my notes, not audio\n" * 20)
    bad["notes.wav"] = "not an audio file"
    full = (root / "pcm16_16k.wav").read_bytes()
    (root / "truncated.wav").write_bytes(full[: len(full) // 2])
    bad["truncated.wav"] = "truncated"
    flac = (root / "speech.flac").read_bytes()
    (root / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    bad["truncated.flac"] = "truncated"
    garbled = bytearray(flac)
    garbled[len(flac) // 4: len(flac) // 2] = bytes([0xAA]) * (len(flac) // 2 - len(flac) // 4)
    (root / "corrupt.flac").write_bytes(bytes(garbled))
    bad["corrupt.flac"] = "corrupt"
    nan = tone(1.0, 16000)
    nan[8000] = np.nan
    write("nan.wav", nan, 16000, "FLOAT")
    bad["nan.wav"] = "NaN/inf"
    inf = tone(1.0, 16000)
    inf[100] = np.inf
    write("inf.wav", inf, 16000, "FLOAT")
    bad["inf.wav"] = "NaN/inf"
    (root / "folder.wav").mkdir(exist_ok=True)
    bad["folder.wav"] = "not a regular file"
    link = root / "dangling.wav"
    if not link.is_symlink():
        os.symlink(root / "does-not-exist.wav", link)
    bad["dangling.wav"] = "not found"
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads anything, so only as a user
        locked = root / "locked.wav"
        if not locked.exists():
            write("locked.wav", tone(0.5, 16000), 16000, "PCM_16")
        locked.chmod(0)
        bad["locked.wav"] = "permission denied"
    return good, bad
