"""What a run needs before its first step, built once and written nowhere: device, threads,
model, plan, batches and optimizer (`build_job` -> `TrainJob`)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmscale.data.loader import PackedStream, TrainBatches
from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.model.flops import model_flops_per_token
from slmscale.train import distributed as D
from slmscale.train.config import TrainConfig
from slmscale.train.loop import Plan, resolve_precision
from slmscale.train.metrics import measure_matmul_peak
from slmscale.train.schedule import default_warmup


def build_from_config(cfg: TrainConfig, shards: Shards) -> Any:
    from slmscale.model.build import build_model, load_pretrained
    from slmscale.model.presets import ModelShape, ffn_size, resolve_preset

    m = cfg.model
    if m.init_from:
        return load_pretrained(m.init_from, shards.vocab_size)
    if m.n_layers is not None:
        shape = ModelShape(m.n_layers, m.d_model, m.n_heads, m.ffn or ffn_size(m.d_model))
    elif m.preset:
        shape = resolve_preset(m.preset)
        if m.ffn is not None:
            shape = ModelShape(shape.n_layers, shape.d_model, shape.n_heads, m.ffn)
    else:
        raise UserError("model: set model.preset, model.init_from, or n_layers/d_model/n_heads")
    return build_model(shape, shards.vocab_size, shards.special_tokens, max(cfg.train.seq_len, 2048),
                       cfg.seed, m.tie_embeddings)


def make_plan(cfg: TrainConfig, n_params: int, model_cfg: Any, world: int, peak: float) -> tuple[Plan, int]:
    t = cfg.train
    global_batch = t.batch_tokens // t.seq_len
    if global_batch % world:
        raise UserError(f"train.batch_tokens={t.batch_tokens}: {global_batch} sequences do not split "
                        f"over {world} processes")
    local = global_batch // world
    micro = min(t.micro_batch or local, local)
    if local % micro:
        raise UserError(f"train.micro_batch={micro} does not divide the {local} sequences per process "
                        "and step; pick a divisor")
    budget = cfg.budget.tokens if cfg.budget.tokens is not None else cfg.budget.tokens_per_param * n_params
    steps = max(1, math.ceil(round(budget) / (global_batch * t.seq_len)))
    warmup = t.warmup_steps if t.warmup_steps is not None else default_warmup(steps)
    plan = Plan(
        steps=steps, seq_len=t.seq_len, global_batch=global_batch, micro_batch=micro, accum=local // micro,
        lr=t.lr, min_lr=t.min_lr if t.min_lr is not None else t.lr / 10, warmup=min(warmup, steps),
        schedule=t.schedule, grad_clip=t.grad_clip, log_every=cfg.log.interval_steps,
        eval_every=cfg.eval.interval_steps or max(1, steps // 5),
        ckpt_every=cfg.checkpoint.interval_steps or max(1, steps // 10), max_loss=t.max_loss,
        flops_per_token=model_flops_per_token(model_cfg, t.seq_len), peak_flops=peak)
    return plan, int(round(budget))


def make_optimizer(model: Any, cfg: TrainConfig, device: Any) -> Any:
    """AdamW; weight decay on matrices only (not on norm gains)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    t = cfg.train
    return torch.optim.AdamW([{"params": decay, "weight_decay": t.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps,
                             fused=True)


def _set_threads(cfg: TrainConfig, info: D.DistInfo, device: Any) -> None:
    import torch

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    elif device.type == "cpu" and info.local_world_size > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.local_world_size))


@dataclass
class TrainJob:
    """Everything the loop and the finish need, built once by `build_job`."""

    cfg: TrainConfig
    run: Path
    shards_path: Path
    shards: Shards
    stream: PackedStream
    valid_windows: Any
    device: Any
    info: D.DistInfo
    precision: str
    mode: str
    model: Any
    wrapped: Any
    optimizer: Any
    train_model: Any
    plan: Plan
    budget: int
    batches: TrainBatches
    n_params: int
    n_total: int


def build_job(cfg: TrainConfig, run: Path, shards_path: Path, shards: Shards, stream: PackedStream,
              valid_windows: Any) -> TrainJob:
    """Device, processes, model, plan, batches and optimizer (no files written)."""
    import torch

    device = D.pick_device(cfg.train.device, "train.device")
    info = D.init_distributed(device.type)
    _set_threads(cfg, info, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    precision = resolve_precision(cfg.train.precision, device)
    model = build_from_config(cfg, shards).to(device)
    if cfg.train.fused_kernels:
        from slmscale.model.kernels import fuse_rms_norms

        fuse_rms_norms(model)
    from slmscale.model.counting import param_counts

    n_params, n_total = param_counts(model)
    peak = cfg.train.peak_flops or measure_matmul_peak(
        device, torch.bfloat16 if precision == "bf16" else torch.float32, seconds=0.3)
    plan, budget = make_plan(cfg, n_params, model.config, info.world_size, peak)
    batches = TrainBatches(stream, plan.seq_len, plan.global_batch, info.rank, info.world_size)
    optimizer = make_optimizer(model, cfg, device)
    mode = cfg.train.distributed
    wrapped = D.wrap_model(model, info, mode, device)
    optimizer = optimizer if not (info.enabled and mode == "fsdp") else make_optimizer(wrapped, cfg, device)
    train_model = torch.compile(wrapped) if cfg.train.compile else wrapped
    return TrainJob(cfg, run, shards_path, shards, stream, valid_windows, device, info, precision, mode, model,
                    wrapped, optimizer, train_model, plan, budget, batches, n_params, n_total)
