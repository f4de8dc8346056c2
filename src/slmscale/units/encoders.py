"""Frame-level feature encoders: MFCC / log-mel (numpy/scipy) and HuBERT-family models (transformers).

Every encoder maps a 16 kHz float32 mono waveform to a float32 (frames, dim) matrix at a fixed frame
rate. `EncoderConfig` is what a tokenizer bundle stores, so the same features can be rebuilt later.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
from pydantic import Field, model_validator

from slmscale.config import StrictModel
from slmscale.errors import UserError

SAMPLE_RATE = 16000
SPECTRAL = ("mfcc", "logmel")
# The built-in MFCC recipe (measured in docs/units.md, "Unit quality"): per-utterance whitening of
# the static cepstra, deltas, CMVN, +-2 frames of context. Older bundles store explicit values.
MFCC_WHITEN_DEFAULT = 50.0
MFCC_CONTEXT_DEFAULT = 2
# Model families whose transformers classes expose the wav2vec2-style encoder we hook into.
HUBERT_TYPES = ("hubert", "wav2vec2", "data2vec-audio", "wavlm")


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


def _cmvn(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    return ((x - mean) / (std + 1e-5)).astype(np.float32)


class SpectralEncoder(Encoder):
    """MFCC (+deltas) or log-mel frames, hop = 1 / frame_rate, Hann window of 1.25 hops.

    Framing, FFT and DCT (scipy) are done here in bulk over all frames of an utterance; the
    frames match librosa's MFCC recipe (checked in the tests against stored librosa output).
    """

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
        if cfg.name == "mfcc":
            self.dim = (cfg.n_mfcc - cfg.drop_c0) * (3 if cfg.deltas else 1)
        else:
            self.dim = cfg.n_mels
        self.dim *= 2 * int(cfg.context or 0) + 1

    def features(self, wav: np.ndarray) -> np.ndarray:
        return self._post(self._raw(wav))

    def _post(self, out: np.ndarray) -> np.ndarray:
        """Utterance-level steps: mean/variance normalisation, then context stacking."""
        if self.cfg.cmvn:
            out = _cmvn(out)
        return stack_context(out, int(self.cfg.context or 0))

    def features_stream(self, pieces: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        # Frames are cut from a rolling buffer in the coordinates of the whole (centre-padded)
        # recording, so the result equals `features` on the joined pieces without holding them.
        pad = self.n_fft // 2
        buf = np.zeros(pad, dtype=np.float32)
        buf_start, next_frame, n = 0, 0, 0
        static: list[np.ndarray] = []

        def emit(upto: int) -> None:
            nonlocal buf, buf_start, next_frame
            if upto > next_frame:
                offset = next_frame * self.hop - buf_start
                static.append(self._static(self._frames(buf[offset:], upto - next_frame)))
                next_frame = upto
            drop = next_frame * self.hop - buf_start
            buf, buf_start = buf[drop:], buf_start + drop

        for piece in pieces:
            buf = np.concatenate([buf, np.asarray(piece, dtype=np.float32)])
            n += len(piece)
            emit(max(next_frame, (buf_start + len(buf) - self.n_fft) // self.hop + 1))
        total = 1 + n // self.hop
        need = (total - 1) * self.hop + self.n_fft - (buf_start + len(buf))
        buf = np.concatenate([buf, np.zeros(max(need, 0), dtype=np.float32)])
        emit(total)
        out = self._finish(np.concatenate(static) if static else np.zeros((0, self._static_dim()), np.float32))
        return self._post(out), n

    def _raw(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        pad = self.n_fft // 2
        n_frames = 1 + len(wav) // self.hop
        x = np.zeros(max(len(wav) + 2 * pad, (n_frames - 1) * self.hop + self.n_fft), dtype=np.float32)
        x[pad:pad + len(wav)] = wav
        return self._finish(self._static(self._frames(x, n_frames)))

    def _frames(self, x: np.ndarray, n_frames: int) -> np.ndarray:
        """`n_frames` windows of n_fft samples, hop apart, starting at x[0] (a view, no copy)."""
        x = np.ascontiguousarray(x)
        return np.lib.stride_tricks.as_strided(
            x, shape=(n_frames, self.n_fft), strides=(x.strides[0] * self.hop, x.strides[0]), writeable=False)

    def _static_dim(self) -> int:
        return self.cfg.n_mfcc if self.cfg.name == "mfcc" else self.cfg.n_mels

    def _static(self, frames: np.ndarray) -> np.ndarray:
        """Log-mel (dB) or MFCC of windowed frames."""
        import scipy.fft

        spec = scipy.fft.rfft(frames * self.window, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        logmel = 10.0 * np.log10(np.maximum(power @ self.mel_basis.T, 1e-10))
        if self.cfg.name == "logmel":
            return logmel.astype(np.float32)
        return scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, : self.cfg.n_mfcc].astype(np.float32)

    def _finish(self, static: np.ndarray) -> np.ndarray:
        if self.cfg.name == "mfcc" and self.cfg.drop_c0:
            static = static[:, 1:]
        if self.cfg.name == "mfcc" and self.cfg.whiten_static is not None:
            static = whiten_utterance(static, self.cfg.whiten_static)
        if self.cfg.name == "mfcc" and self.cfg.deltas:
            d1 = _deltas(static)
            static = np.concatenate([static, d1, _deltas(d1)], axis=1)
        return np.ascontiguousarray(static, dtype=np.float32)


def whiten_utterance(x: np.ndarray, prior_frames: float) -> np.ndarray:
    """(x - mean) @ C^(-1/2), C = the utterance covariance shrunk towards its diagonal:
    C = (n * S + m * diag(S)) / (n + m) for n frames and m = prior_frames (short utterances
    cannot estimate a full covariance; they fall back to per-dimension scaling)."""
    n = len(x)
    if n < 2:
        return np.zeros_like(x, dtype=np.float32)
    x64 = x.astype(np.float64)
    centred = x64 - x64.mean(axis=0)
    cov = centred.T @ centred / n
    cov = (n * cov + prior_frames * np.diag(np.diag(cov))) / (n + prior_frames)
    values, vectors = np.linalg.eigh(cov)
    inv_sqrt = (vectors / np.sqrt(np.maximum(values, 1e-6 * max(values.max(), 1e-12)))) @ vectors.T
    return (centred @ inv_sqrt).astype(np.float32)


def stack_context(x: np.ndarray, context: int) -> np.ndarray:
    """Each frame joined with its `context` left and right neighbours (edges repeated):
    (n, d) -> (n, (2 * context + 1) * d), blocks ordered from frame t - context to t + context."""
    n = len(x)
    if context == 0:
        return x
    if n == 0:
        return np.zeros((0, x.shape[1] * (2 * context + 1)), dtype=np.float32)
    padded = np.pad(x, ((context, context), (0, 0)), mode="edge")
    return np.ascontiguousarray(np.concatenate([padded[j:j + n] for j in range(2 * context + 1)], axis=1),
                                dtype=np.float32)


def _deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over ±width frames, edges repeated (the HTK formula)."""
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    n = len(x)
    num = sum(k * (padded[width + k:width + k + n] - padded[width - k:width - k + n]) for k in range(1, width + 1))
    return (num / (2 * sum(k * k for k in range(1, width + 1)))).astype(np.float32)


class HubertEncoder(Encoder):
    """Hidden states of transformer layer `layer` (1-based) of a local HuBERT/wav2vec2-style model.

    Layers above `layer` are dropped, so only the needed part of the model runs. Models whose
    conv feature extractor uses group norm (HuBERT-base) were trained on unpadded input, so they
    run one utterance at a time; layer-norm models run in padded batches with an attention mask.
    """

    def __init__(self, cfg: EncoderConfig, device: str = "auto", batch_seconds: float = 200.0):
        import torch
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = Path(cfg.checkpoint or "")
        if not (path / "config.json").is_file():
            raise UserError(f"{path}: no config.json; --checkpoint must be a local transformers "
                            "model directory (saved with save_pretrained)")
        try:
            mcfg = AutoConfig.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: cannot read the model config ({str(err).splitlines()[0]})") from None
        if mcfg.model_type not in HUBERT_TYPES:
            raise UserError(f"{path}: model type {mcfg.model_type!r} is not supported; "
                            f"use one of {', '.join(HUBERT_TYPES)}")
        n_layers = int(mcfg.num_hidden_layers)
        if not 1 <= int(cfg.layer or 0) <= n_layers:
            raise UserError(f"--layer {cfg.layer}: {path} has transformer layers 1..{n_layers}")
        try:
            model = AutoModel.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: cannot load the model weights ({str(err).splitlines()[0]})") from None
        model.encoder.layers = model.encoder.layers[: cfg.layer]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.cfg = cfg
        self.dim = int(mcfg.hidden_size)
        self.frame_rate = SAMPLE_RATE // int(np.prod(mcfg.conv_stride))
        self.batched = mcfg.feat_extract_norm == "layer"
        self.batch_samples = int(batch_seconds * SAMPLE_RATE)
        self.normalize = _wants_normalized_input(path)
        self._captured: list = []
        self.model.encoder.layers[-1].register_forward_hook(
            lambda _m, _i, out: self._captured.append(out[0] if isinstance(out, tuple) else out))
        self._receptive = int(sum(k - s for k, s in zip(mcfg.conv_kernel, mcfg.conv_stride)) + 1)

    def min_samples(self) -> int:
        return self._receptive

    def n_frames(self, n_samples: int) -> int:
        return int(self.model._get_feat_extract_output_lengths(n_samples))

    def features(self, wav: np.ndarray) -> np.ndarray:
        return self.features_batch([wav])[0]

    def features_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(wavs)
        order = sorted(range(len(wavs)), key=lambda i: len(wavs[i]))
        batch: list[int] = []
        for i in order:
            longest = max([len(wavs[j]) for j in batch] + [len(wavs[i])])
            if batch and (not self.batched or longest * (len(batch) + 1) > self.batch_samples):
                self._run(wavs, batch, out)
                batch = []
            batch.append(i)
        if batch:
            self._run(wavs, batch, out)
        return out  # type: ignore[return-value]

    def _run(self, wavs: list[np.ndarray], idx: list[int], out: list) -> None:
        import torch

        lens = [len(wavs[i]) for i in idx]
        x = np.zeros((len(idx), max(lens)), dtype=np.float32)
        mask = np.zeros_like(x, dtype=np.int64)
        for row, i in enumerate(idx):
            w = np.asarray(wavs[i], dtype=np.float32)
            if self.normalize:
                w = (w - w.mean()) / np.sqrt(w.var() + 1e-7)
            x[row, : len(w)] = w
            mask[row, : len(w)] = 1
        inputs = {"input_values": torch.from_numpy(x).to(self.device)}
        if self.batched:
            inputs["attention_mask"] = torch.from_numpy(mask).to(self.device)
        self._captured.clear()
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                    enabled=self.cfg.bf16):
            self.model(**inputs)
        hidden = self._captured[-1].float().cpu().numpy()
        for row, i in enumerate(idx):
            out[i] = np.ascontiguousarray(hidden[row, : self.n_frames(lens[row])], dtype=np.float32)


def _wants_normalized_input(path: Path) -> bool:
    """Some checkpoints (e.g. HuBERT-large) expect zero-mean unit-variance waveforms."""
    pre = path / "preprocessor_config.json"
    if not pre.is_file():
        return False
    try:
        return bool(json.loads(pre.read_text()).get("do_normalize", False))
    except (OSError, json.JSONDecodeError):
        return False


def build_encoder(cfg: EncoderConfig, device: str = "auto") -> Encoder:
    if cfg.name in SPECTRAL:
        return SpectralEncoder(cfg)
    if cfg.name == "phone":
        from slmscale.units.phonenet import PhoneEncoder  # torch, only when asked for

        return PhoneEncoder(cfg)
    return HubertEncoder(cfg, device=device)
