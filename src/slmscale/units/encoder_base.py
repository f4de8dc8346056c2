"""What every frame-level encoder shares: `EncoderConfig` (stored in tokenizer bundles), the
`Encoder` interface, checkpoint identity and the per-process mel filterbank cache.

Kept apart from `encoders.build_encoder` so the concrete encoders (spectral, phonenet) and the
manifest job runner import it without importing the factory that imports them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import numpy as np
from pydantic import Field, model_validator

from slmscale.config import StrictModel

SAMPLE_RATE = 16000
SPECTRAL = ("mfcc", "logmel")
# The built-in MFCC recipe (measured in docs/units.md, "Unit quality"): per-utterance whitening of
# the static cepstra, deltas, CMVN, +-2 frames of context. Older bundles store explicit values.
MFCC_WHITEN_DEFAULT = 50.0
MFCC_CONTEXT_DEFAULT = 2


class EncoderConfig(StrictModel):
    name: Literal["mfcc", "logmel", "hubert", "phone"] = "mfcc"
    frame_rate: int | None = Field(default=None, description="Hz; 25 or 50 for mfcc/logmel")
    n_mfcc: int = Field(default=13, ge=1, le=80)
    n_mels: int = Field(default=40, ge=8, le=256)
    deltas: bool = True          # append first and second differences (MFCC only)
    cmvn: bool = True            # per-utterance mean/variance normalisation (mfcc/logmel)
    drop_c0: bool = False        # drop MFCC c0 (overall loudness) before deltas
    # Stack +-context neighbouring frames (after CMVN). Default: 2 for mfcc, else 0.
    context: int | None = Field(default=None, ge=0, le=8)
    # Per-utterance whitening of the static MFCCs (full covariance, shrunk towards its diagonal
    # with this many pseudo-frames): undoes linear, speaker-specific cepstral transforms such as
    # vocal-tract-length warping, which a per-dimension CMVN cannot. Default: 50 for mfcc;
    # None = off. See docs/units.md "Unit quality" for the measurements behind the defaults.
    whiten_static: float | None = Field(default=None, ge=0)
    # Absolute path of a local transformers model dir (hubert) or a phone classifier dir (phone).
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    layer: int | None = Field(default=None, ge=1)
    bf16: bool = False

    @model_validator(mode="after")
    def _check(self) -> "EncoderConfig":
        if self.name == "mfcc":
            if "whiten_static" not in self.model_fields_set:
                self.whiten_static = MFCC_WHITEN_DEFAULT
            if self.context is None:
                self.context = MFCC_CONTEXT_DEFAULT
        elif self.whiten_static is not None or self.drop_c0:
            raise ValueError(f"whiten_static and drop_c0 apply to mfcc features, not {self.name}")
        if self.context is None:
            self.context = 0
        if self.name in ("hubert", "phone") and self.context:
            raise ValueError(f"context stacking applies to mfcc/logmel features, not {self.name}")
        if self.name == "phone":
            if self.checkpoint is None:
                raise ValueError("the phone encoder needs a phone classifier directory (checkpoint)")
            if self.frame_rate is None:
                self.frame_rate = 50
            elif self.frame_rate != 50:
                raise ValueError(f"the phone encoder runs at 50 Hz, got frame_rate {self.frame_rate}")
            return self
        if self.name in SPECTRAL:
            if self.frame_rate is None:
                self.frame_rate = 50
            if self.frame_rate not in (25, 50):
                raise ValueError(f"frame_rate must be 25 or 50 Hz for {self.name}, got {self.frame_rate}")
        elif self.checkpoint is None or self.layer is None:
            raise ValueError("the hubert encoder needs a checkpoint directory and a layer")
        return self


def checkpoint_sha256(directory: str | Path) -> str:
    """Identity of a model directory: hash of every file's name and bytes (weights included)."""
    h = hashlib.sha256()
    root = Path(directory)
    for f in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
    return h.hexdigest()


class Encoder:
    frame_rate: int
    dim: int

    def features(self, wav: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def features_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        return [self.features(w) for w in wavs]

    def features_stream(self, pieces: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        """Features of a long recording given in consecutive pieces; (features, samples seen)."""
        feats, n = [], 0
        for piece in pieces:
            if len(piece) >= self.min_samples():
                feats.append(self.features(piece))
            n += len(piece)
        return (np.concatenate(feats) if feats else np.zeros((0, self.dim), np.float32)), n

    def feature_blocks(self, open_pieces: Callable[[], Iterable[np.ndarray]]) -> Iterator[np.ndarray]:
        """Features of a long recording block by block, never all at once; `open_pieces()` gives
        its audio in consecutive pieces. By default each piece is encoded on its own (HuBERT:
        context stops at piece boundaries); spectral features equal whole-file ones exactly."""
        for piece in open_pieces():
            if len(piece) >= self.min_samples():
                yield self.features(piece)

    def min_samples(self) -> int:
        return 1


# Mel filterbanks by (n_fft, n_mels), built once per process (worker processes get the parent's).
MEL_CACHE: dict[tuple[int, int], np.ndarray] = {}


def mel_filters(n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-style mel filterbank (n_mels, n_fft // 2 + 1), 20-7600 Hz (librosa's default kind)."""
    key = (n_fft, n_mels)
    if key not in MEL_CACHE:
        from slmscale.units.melbank import mel_filterbank

        MEL_CACHE[key] = mel_filterbank(SAMPLE_RATE, n_fft, n_mels, fmin=20.0, fmax=7600.0)
    return MEL_CACHE[key]
