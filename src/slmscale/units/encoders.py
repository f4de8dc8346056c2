"""Frame-level feature encoders: MFCC / log-mel (numpy/scipy) and HuBERT-family models (transformers).

Every encoder maps a 16 kHz float32 mono waveform to a float32 (frames, dim) matrix at a fixed frame
rate. `EncoderConfig` is what a tokenizer bundle stores, so the same features can be rebuilt later.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

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

        from slmscale.hf_cache import resolve_model_dir

        path = resolve_model_dir(cfg.checkpoint or "")
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
        from slmscale.units.spectral import SpectralEncoder

        return SpectralEncoder(cfg)
    if cfg.name == "phone":
        from slmscale.units.phonenet import PhoneEncoder  # torch, only when asked for

        return PhoneEncoder(cfg)
    return HubertEncoder(cfg, device=device)


_SPECTRAL_NAMES = ("SpectralEncoder", "whiten_utterance", "stack_context", "_deltas")


def __getattr__(name: str) -> Any:
    # The spectral encoder lives in units/spectral.py (which imports this module); its names are
    # still importable from here.
    if name in _SPECTRAL_NAMES:
        from slmscale.units import spectral

        return getattr(spectral, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
