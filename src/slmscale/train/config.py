"""TrainConfig: everything a training run needs, validated before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, PositiveInt, model_validator

from slmscale.config import StrictModel, load_config


class DataConfig(StrictModel):
    shards: str = Field(description="token shards directory (slmscale units encode / data shards)")
    train_split: str = "train"
    valid_split: str = "valid"
    max_tokens: Optional[PositiveInt] = Field(
        None, description="unique training tokens: train on the first training documents (stored "
                          "order) holding at most this many tokens, repeated for epochs (data-constrained runs)")
    verify: bool = Field(True, description="check the shards against meta.json (sha256 of every file, token "
                                           "ids within the vocabulary) before training; false skips that "
                                           "for very large shards (sizes and offsets are always checked)")


class ModelConfig(StrictModel):
    preset: Optional[str] = Field("cpu-1m", description="named preset or auto-<size>, e.g. auto-3m")
    init_from: Optional[str] = Field(None, description="local AutoModelForCausalLM dir to start from")
    n_layers: Optional[PositiveInt] = None
    d_model: Optional[PositiveInt] = None
    n_heads: Optional[PositiveInt] = None
    ffn: Optional[PositiveInt] = None
    tie_embeddings: bool = False

    @model_validator(mode="after")
    def _explicit_shape(self) -> "ModelConfig":
        given = [self.n_layers, self.d_model, self.n_heads]
        if any(v is not None for v in given) and not all(v is not None for v in given):
            raise ValueError("an explicit shape needs n_layers, d_model and n_heads together")
        if self.d_model is not None and self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        return self


class BudgetConfig(StrictModel):
    tokens: Optional[float] = Field(None, gt=0, description="D: training tokens (predicted targets)")
    tokens_per_param: Optional[float] = Field(None, gt=0, description="D = this × N")

    @model_validator(mode="after")
    def _one_of(self) -> "BudgetConfig":
        if (self.tokens is None) == (self.tokens_per_param is None):
            raise ValueError("set exactly one of budget.tokens and budget.tokens_per_param")
        return self


class OptimConfig(StrictModel):
    seq_len: PositiveInt = 512
    batch_tokens: PositiveInt = Field(16_384, description="global batch in tokens (all ranks)")
    micro_batch: Optional[PositiveInt] = Field(None, description="sequences per forward per rank")
    lr: float = Field(5e-4, gt=0)
    min_lr: Optional[float] = Field(None, ge=0, description="default lr / 10")
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: Optional[int] = Field(None, ge=0, description="default min(max(100, 1%), 10%)")
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0)
    grad_clip: Optional[float] = Field(1.0, gt=0, description="max grad norm; null disables")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 on GPU, fp32 on CPU")
    compile: bool = False
    fused_kernels: bool = Field(True, description="fused RMSNorm kernel (same math and weights)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: Optional[PositiveInt] = Field(None, description="CPU threads per process")
    distributed: Literal["ddp", "fsdp"] = "ddp"
    peak_flops: Optional[float] = Field(None, gt=0, description="MFU denominator per device; "
                                        "default: a large matmul measured at start")
    max_loss: Optional[float] = Field(None, gt=0, description="treat a train loss above this as divergence")

    @model_validator(mode="after")
    def _shapes(self) -> "OptimConfig":
        if self.batch_tokens < self.seq_len:
            raise ValueError(f"batch_tokens {self.batch_tokens} is smaller than seq_len {self.seq_len}")
        if self.batch_tokens % self.seq_len:
            raise ValueError(f"batch_tokens {self.batch_tokens} must be a multiple of seq_len {self.seq_len}")
        return self


class EvalConfig(StrictModel):
    interval_steps: Optional[PositiveInt] = Field(None, description="default: 5 evaluations per run")
    max_tokens: Optional[PositiveInt] = Field(65_536, description="cap on held-out tokens; null = all")
    batch_size: PositiveInt = 16


class LogConfig(StrictModel):
    interval_steps: PositiveInt = 10
    tensorboard: bool = False
    wandb: bool = False


class CheckpointConfig(StrictModel):
    interval_steps: Optional[PositiveInt] = Field(None, description="default: 10 per run")
    keep: PositiveInt = 2


class TrainConfig(StrictModel):
    seed: int = 0
    out: Optional[str] = Field(None, description="run directory")
    run_id: Optional[str] = None
    data: DataConfig
    model: ModelConfig = ModelConfig()
    budget: BudgetConfig
    train: OptimConfig = OptimConfig()
    eval: EvalConfig = EvalConfig()
    log: LogConfig = LogConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()

    @model_validator(mode="after")
    def _min_lr(self) -> "TrainConfig":
        if self.train.min_lr is not None and self.train.min_lr > self.train.lr:
            raise ValueError(f"train.min_lr {self.train.min_lr} is above train.lr {self.train.lr}")
        return self


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    return load_config(TrainConfig, path, overrides)
