"""Frame-level feature encoders: MFCC / log-mel (numpy/scipy) and HuBERT-family models (transformers).

Every encoder maps a 16 kHz float32 mono waveform to a float32 (frames, dim) matrix at a fixed frame
rate. `EncoderConfig` is what a tokenizer bundle stores, so the same features can be rebuilt later.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.errors import UserError
# The shared pieces live in encoder_base (the concrete encoders import them from there); they stay
# importable from here, the public module.
from slmscale.units.encoder_base import (MEL_CACHE, MFCC_CONTEXT_DEFAULT, MFCC_WHITEN_DEFAULT, SAMPLE_RATE,
                                         SPECTRAL, Encoder, EncoderConfig, checkpoint_sha256, mel_filters)

__all__ = ["HUBERT_TYPES", "MEL_CACHE", "MFCC_CONTEXT_DEFAULT", "MFCC_WHITEN_DEFAULT", "SAMPLE_RATE", "SPECTRAL",
           "Encoder", "EncoderConfig", "HubertEncoder", "build_encoder", "checkpoint_sha256", "hubert_model_config",
           "mel_filters"]

# Model families whose transformers classes expose the wav2vec2-style encoder we hook into.
HUBERT_TYPES = ("hubert", "wav2vec2", "data2vec-audio", "wavlm")


def conv_frame_rate(conv_stride: tuple) -> int:
    """Frames per second of a conv feature extractor with these strides, at 16 kHz."""
    return SAMPLE_RATE // math.prod(conv_stride)


def receptive_field(conv_kernel: tuple, conv_stride: tuple) -> int:
    """Samples one output frame of a wav2vec2/HuBERT conv feature extractor sees: also the fewest
    samples that yield a frame."""
    field_, jump = 1, 1
    for k, s in zip(conv_kernel, conv_stride):
        field_ += (k - 1) * jump
        jump *= s
    return field_


def hubert_model_config(checkpoint: str | Path) -> tuple[Path, Any]:
    """(local folder, transformers config) of a HuBERT-family checkpoint; a clear error otherwise."""
    from transformers import AutoConfig

    from slmscale.hf_cache import resolve_model_dir

    path = resolve_model_dir(checkpoint)
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
    return path, mcfg


class HubertEncoder(Encoder):
    """Hidden states of transformer layer `layer` (1-based) of a local HuBERT/wav2vec2-style model.

    Layers above `layer` are dropped, so only the needed part of the model runs. Models whose
    conv feature extractor uses group norm (HuBERT-base) were trained on unpadded input, so they
    run one utterance at a time; layer-norm models run in padded batches with an attention mask.
    With `layers`, one forward pass gives those layers' hidden states side by side (dim: hidden
    size × their number, in their order), each exactly as a one-layer encoder gives it; `units
    layers` samples (units.layers) and measures (units.layer_views) every layer it sweeps from one pass.
    """

    def __init__(self, cfg: EncoderConfig, device: str = "auto", batch_seconds: float = 200.0,
                 layers: tuple[int, ...] | None = None):
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path, mcfg = hubert_model_config(cfg.checkpoint or "")
        n_layers = int(mcfg.num_hidden_layers)
        self.layers = tuple(layers or (int(cfg.layer or 0),))
        for layer in self.layers:
            if not 1 <= layer <= n_layers:
                raise UserError(f"--layer {layer}: {path} has transformer layers 1..{n_layers}")
        try:
            model = AutoModel.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: cannot load the model weights ({str(err).splitlines()[0]})") from None
        model.encoder.layers = model.encoder.layers[: max(self.layers)]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.cfg = cfg
        self.dim = int(mcfg.hidden_size) * len(self.layers)
        self.frame_rate = conv_frame_rate(mcfg.conv_stride)
        self.batched = mcfg.feat_extract_norm == "layer"
        self.batch_samples = int(batch_seconds * SAMPLE_RATE)
        self.normalize = _wants_normalized_input(path)
        self._captured: dict[int, Any] = {}
        for layer in set(self.layers):
            self.model.encoder.layers[layer - 1].register_forward_hook(self._capture(layer))
        self._receptive = receptive_field(mcfg.conv_kernel, mcfg.conv_stride)

    def _capture(self, layer: int) -> Any:
        def hook(_module: Any, _inputs: Any, out: Any) -> None:
            self._captured[layer] = out[0] if isinstance(out, tuple) else out
        return hook

    def min_samples(self) -> int:
        return self._receptive

    def columns(self, layer: int) -> tuple[int, int]:
        """[start, stop) of `layer`'s hidden state in this encoder's features."""
        width = self.dim // len(self.layers)
        j = self.layers.index(layer)
        return j * width, (j + 1) * width

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
        hidden = torch.cat([self._captured[layer].float() for layer in self.layers], dim=-1).cpu().numpy()
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
