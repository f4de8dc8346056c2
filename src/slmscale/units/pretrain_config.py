"""`PretrainConfig`: everything `units pretrain` needs, validated before any work; model presets.

Presets name a transformers `HubertConfig` (the network is transformers' `HubertModel`, so the
result loads anywhere a published HuBERT does). All give 50 Hz frames (conv strides multiply to 320).

| preset   | conv channels / strides          | transformer (layers x dim, heads, ffn) | params |
|----------|----------------------------------|----------------------------------------|--------|
| cpu-tiny | 128-128 / 160-2 (kernels 400-3)  | 3 x 128, 4 heads, 512                  | ~0.84M |
| cpu-small| 256-256 / 160-2 (kernels 400-3)  | 4 x 256, 4 heads, 1024                 | ~4.6M  |
| base     | 7 x 512 / 5-2-2-2-2-2-2 (HuBERT) | 12 x 768, 12 heads, 3072 (HuBERT-base) | ~94M   |
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from slmscale.audio.perturb import PerturbConfig
from slmscale.config import StrictModel, added_field
from slmscale.units.cross_voice import CrossVoice
from slmscale.units.voice_norm import VoiceNorm

# A cheap front end for CPUs: two convolutions, the first a learned short-time filterbank (25 ms
# windows every 10 ms, like a spectrogram), the second pooling pairs of them to 50 Hz. Measured
# CPU time per step (8 x 2 s crops): 0.15 s vs 0.27 s for a 3-layer 20-4-4 stack and ~1 s for
# HuBERT-base's 7-layer stack at 64 channels.
_CPU_CONV = {"conv_stride": (160, 2), "conv_kernel": (400, 3), "feat_extract_norm": "group",
             "do_stable_layer_norm": False, "conv_bias": False, "hidden_dropout": 0.0,
             "activation_dropout": 0.0, "attention_dropout": 0.0, "feat_proj_dropout": 0.0,
             "layerdrop": 0.0, "num_conv_pos_embedding_groups": 4}
PRESETS: dict[str, dict[str, Any]] = {
    "cpu-tiny": {**_CPU_CONV, "conv_dim": (128, 128), "hidden_size": 128, "num_hidden_layers": 3,
                 "num_attention_heads": 4, "intermediate_size": 512, "num_conv_pos_embeddings": 32},
    "cpu-small": {**_CPU_CONV, "conv_dim": (256, 256), "hidden_size": 256, "num_hidden_layers": 4,
                  "num_attention_heads": 4, "intermediate_size": 1024, "num_conv_pos_embeddings": 64},
    # HuBERT-base as published (Hsu et al. 2021): group-norm conv stack, post-LN transformer.
    "base": {"layerdrop": 0.05},
}
# Peak learning rates: HuBERT-base used 5e-4; the small CPU models train in a few hundred steps.
DEFAULT_LR = {"cpu-tiny": 3e-3, "cpu-small": 2e-3, "base": 5e-4}
# Layer whose features give the next iteration's targets (HuBERT-base used layer 6 of 12).
DEFAULT_LAYER = {"cpu-tiny": 2, "cpu-small": 3, "base": 6}


class PretrainConfig(StrictModel):
    manifest: str
    preset: Literal["cpu-tiny", "cpu-small", "base"] = "cpu-tiny"
    iterations: int = Field(default=2, ge=1, le=5)
    k: list[int] = Field(default_factory=lambda: [100], description="clusters per iteration (last repeats)")
    layer: int | None = Field(default=None, ge=1, description="layer giving the next targets (default per preset)")
    # Defaults: the recipe measured on 2 CPU cores (docs/units.md): 3000 steps of 16 crops per
    # iteration on up to 4 h of audio, perturbed; 21 and 26 CPU-minutes for cpu-tiny's two iterations.
    steps: list[int] = Field(default_factory=lambda: [3000],
                             description="optimizer steps per iteration (last repeats)")
    batch: int = Field(default=16, ge=1, description="crops per optimizer step, all processes")
    crop_seconds: float = Field(default=2.0, gt=0.1, le=30)
    lr: float | None = Field(default=None, gt=0, description="peak lr; default per preset (DEFAULT_LR)")
    min_lr: float = Field(default=1e-4, ge=0)
    warmup: int | None = Field(default=None, ge=0, description="default: train.schedule.default_warmup")
    weight_decay: float = Field(default=0.01, ge=0)
    grad_clip: float | None = Field(default=1.0, gt=0)
    mask_prob: float = Field(default=0.08, gt=0, le=1)
    mask_length: int = Field(default=10, ge=1)
    # Weight of the loss on unmasked frames (HuBERT: 0, masked frames only). Predicting visible
    # frames' clusters trains the conv front end faster, which short CPU runs need.
    # Default per preset: 1 for the CPU presets, 0 for base.
    unmasked_weight: float | None = Field(default=None, ge=0)
    # Content-preserving perturbations of the input (targets stay those of the clean audio);
    # None trains on clean audio only.
    perturb: PerturbConfig | None = Field(default_factory=PerturbConfig)
    # Weight of the view-consistency loss: 1 - cos between layer-`layer` features of a crop and
    # of a re-voiced copy of it (pitch, formants, noise). 0 = off (half the compute).
    consistency: float = Field(default=0.0, ge=0)
    # Whiten each voice's features with its own statistics before clustering them into the next
    # iteration's targets (iterations 2+; iteration 1's MFCC targets are whitened per utterance):
    # targets that say less about the voice. Uses the manifest's voice labels, never text.
    target_voice_norm: VoiceNorm | None = added_field()
    # Readings of the same text by other voices (manifest `group`) get one consensus target
    # sequence, aligned by DTW (every iteration; units/cross_voice.py). Uses which recordings read
    # the same text, never the text itself. None = each reading's own targets.
    cross_voice: CrossVoice | None = added_field()
    max_hours: float = Field(default=4.0, gt=0, description="training audio loaded (seeded subset)")
    kmeans_frames: int = Field(default=60_000, ge=100)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    log_every: int = Field(default=10, ge=1)
    ckpt_every: int = Field(default=50, ge=1)
    keep_checkpoints: int = Field(default=2, ge=1)
    # Processes that build batches ahead of the training step (a torch DataLoader). None = auto:
    # on CUDA up to 8 (the CPUs this process may use, less one per local GPU process), none on
    # CPU, where the training step wants every core. Batches are the same whatever the count.
    loader_workers: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "PretrainConfig":
        for k in self.k:
            if not 2 <= k <= 65534:
                raise ValueError(f"k={k}: clusters per iteration must be in 2..65534")
        for s in self.steps:
            if s < 1:
                raise ValueError(f"steps={s}: need at least one step per iteration")
        if not self.k or not self.steps:
            raise ValueError("k and steps need at least one value")
        layers = hubert_config_kwargs(self.preset)["num_hidden_layers"]
        if self.layer is not None and self.layer > layers:
            raise ValueError(f"layer {self.layer}: preset {self.preset} has layers 1..{layers}")
        return self

    def iteration_identity(self, iteration: int) -> dict[str, Any]:
        """What shapes iteration `iteration`'s weights (its targets, batches, schedule and those of
        the iterations before it), so a finished iteration is reused only by a config that would
        make it again: the number of iterations, logging and checkpoint cadence, loader processes
        and later iterations' steps/k leave it out."""
        data = self.model_dump(mode="json", exclude={"iterations", "log_every", "ckpt_every",
                                                     "keep_checkpoints", "loader_workers"})
        data["steps"] = [self.steps_at(i) for i in range(1, iteration + 1)]
        data["k"] = [self.k_at(i) for i in range(1, iteration + 1)]
        if iteration == 1:
            data.pop("target_voice_norm", None)  # it shapes the targets of iterations 2+ only
        return data

    def k_at(self, iteration: int) -> int:
        return self.k[min(iteration, len(self.k)) - 1]

    def steps_at(self, iteration: int) -> int:
        return self.steps[min(iteration, len(self.steps)) - 1]

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.preset]

    @property
    def unmasked(self) -> float:
        if self.unmasked_weight is not None:
            return self.unmasked_weight
        return 0.0 if self.preset == "base" else 1.0

    @property
    def target_layer(self) -> int:
        return self.layer if self.layer is not None else DEFAULT_LAYER[self.preset]


def hubert_config_kwargs(preset: str) -> dict[str, Any]:
    from transformers import HubertConfig

    base = HubertConfig().to_dict()
    return {**{k: base[k] for k in ("num_hidden_layers",)}, **PRESETS[preset]}


def hubert_config(cfg: PretrainConfig) -> Any:
    from transformers import HubertConfig

    return HubertConfig(**PRESETS[cfg.preset], mask_time_prob=cfg.mask_prob, mask_time_length=cfg.mask_length)
