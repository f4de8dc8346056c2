"""The training step loop: packed batches in, AdamW steps out, metrics at intervals.

The loop avoids per-step host syncs: the loss is summed on the device and read only at log,
eval and checkpoint steps (where the divergence guard also looks at it).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from slmscale.progress import with_step_lines
from slmscale.train.distributed import DistInfo, all_reduce_sum, unwrap
from slmscale.train.schedule import lr_at


@dataclass
class Plan:
    """Everything fixed for the whole run (derived from the config before any work)."""

    steps: int
    seq_len: int
    global_batch: int  # sequences per optimizer step, all ranks
    micro_batch: int  # sequences per forward, per rank
    accum: int  # forwards per optimizer step, per rank
    lr: float
    min_lr: float
    warmup: int
    schedule: str
    grad_clip: float | None
    log_every: int
    eval_every: int
    ckpt_every: int
    max_loss: float | None
    flops_per_token: float  # MFU numerator per token (matmul work)
    peak_flops: float  # MFU denominator per device

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len


@dataclass
class LoopState:
    step: int = 0  # optimizer steps completed
    loss_sum: float = 0.0  # carried across a checkpoint inside a log interval
    loss_count: int = 0
    wall_s: float = 0.0
    last_valid: float | None = None
    last_train: float | None = None
    tokens_per_s: float | None = None
    mfu: float | None = None
    diverged: str | None = None


def resolve_precision(want: str, device: Any) -> str:
    """`auto` -> bf16 on a CUDA device, fp32 elsewhere; any other setting as given."""
    if want == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return want


def autocast_ctx(device: Any, precision: str) -> Any:
    import torch

    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(arr: np.ndarray, device: Any) -> Any:
    import torch

    t = torch.from_numpy(arr)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t


def lm_loss(model: Any, x: Any, y: Any, reduction: str = "mean") -> Any:
    import torch.nn.functional as F

    logits = model(input_ids=x, use_cache=False).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction=reduction)


def evaluate(model: Any, windows: np.ndarray, batch_size: int, device: Any, precision: str,
             info: DistInfo, sharded_params: bool = False) -> float:
    """Per-token cross-entropy (nats) on the fixed held-out windows.

    Replicated models (DDP) split the windows over ranks and sum; FSDP models need every rank
    in every forward (parameter all-gathers), so there each rank evaluates all windows.
    """
    import torch

    inner = unwrap(model)
    was_training = inner.training
    inner.eval()
    split = info.enabled and not sharded_params
    mine = windows[info.rank::info.world_size] if split else windows
    total = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad(), autocast_ctx(device, precision):
        for i in range(0, len(mine), batch_size):
            chunk = mine[i:i + batch_size]
            x = to_device(np.ascontiguousarray(chunk[:, :-1]), device)
            y = to_device(np.ascontiguousarray(chunk[:, 1:]), device)
            total[0] += lm_loss(inner, x, y, reduction="sum").double()
            total[1] += y.numel()
    if split:
        all_reduce_sum(total, info)
    inner.train(was_training)
    return float(total[0] / total[1])


def train_loop(model: Any, optimizer: Any, batches: Any, plan: Plan, state: LoopState, device: Any,
               precision: str, info: DistInfo, log: Callable[[dict[str, Any]], None],
               eval_fn: Callable[[], float], save_ckpt: Callable[[LoopState], None],
               progress: Callable[[int], None] | None = None, train_model: Any = None) -> LoopState:
    """Run optimizer steps state.step .. plan.steps-1; returns the final state."""
    import torch

    fwd = train_model if train_model is not None else model
    log = with_step_lines(log, plan.steps) if info.is_main else log  # plain loss lines in batch logs
    params = [p for p in model.parameters() if p.requires_grad]
    is_ddp = info.enabled and hasattr(model, "no_sync")
    loss_acc = torch.zeros((), dtype=torch.float32, device=device)
    count = 0
    seg_start, seg_tokens = time.perf_counter(), 0
    wall_start = time.perf_counter() - state.wall_s
    model.train()

    def read_loss() -> float | None:
        """Mean train loss since the last read (all ranks), including a resumed partial sum."""
        nonlocal count  # loss_acc is only changed in place
        if count == 0 and state.loss_count == 0:
            return None
        packed = torch.stack([loss_acc.double(), torch.tensor(float(count), dtype=torch.float64,
                                                              device=device)])
        all_reduce_sum(packed, info)
        total = float(packed[0]) / info.world_size + state.loss_sum
        n = float(packed[1]) / info.world_size + state.loss_count
        loss_acc.zero_()
        count, state.loss_sum, state.loss_count = 0, 0.0, 0
        return total / n

    def guard(value: float | None, step: int) -> bool:
        if value is None:
            return False
        if not math.isfinite(value):
            state.diverged = f"training loss became {value} at step {step}"
        elif plan.max_loss is not None and value > plan.max_loss:
            state.diverged = (f"training loss {value:.4g} exceeded train.max_loss={plan.max_loss} "
                              f"at step {step}")
        return state.diverged is not None

    for step in range(state.step, plan.steps):
        lr = lr_at(step, plan.steps, plan.lr, plan.min_lr, plan.warmup, plan.schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x_np, y_np = batches.batch(step)
        x_all, y_all = to_device(x_np, device), to_device(y_np, device)
        for m in range(plan.accum):
            sl = slice(m * plan.micro_batch, (m + 1) * plan.micro_batch)
            sync_ctx = model.no_sync() if is_ddp and m < plan.accum - 1 else contextlib.nullcontext()
            with sync_ctx:
                with autocast_ctx(device, precision):
                    loss = lm_loss(fwd, x_all[sl], y_all[sl])
                (loss / plan.accum).backward()
            loss_acc += loss.detach() / plan.accum
        count += 1
        if plan.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, plan.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step = done = step + 1
        seg_tokens += plan.tokens_per_step

        is_last = done == plan.steps
        if done % plan.log_every == 0 or is_last:
            train_loss = read_loss()
            state.last_train = train_loss
            if guard(train_loss, done):
                break
            if device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            tps = seg_tokens / max(now - seg_start, 1e-9)
            mfu = tps * plan.flops_per_token / (plan.peak_flops * info.world_size)
            state.tokens_per_s, state.mfu = tps, mfu
            log({"step": done, "tokens": done * plan.tokens_per_step, "train_loss": train_loss, "lr": lr,
                 "tokens_per_s": tps, "mfu": mfu, "epoch": batches.epochs(done),
                 "elapsed_s": now - wall_start})
            seg_start, seg_tokens = time.perf_counter(), 0
        if done % plan.eval_every == 0 or is_last:
            state.last_valid = eval_fn()
            log({"step": done, "tokens": done * plan.tokens_per_step, "valid_loss": state.last_valid})
            if guard(state.last_valid, done):
                break
            seg_start, seg_tokens = time.perf_counter(), 0
        if done % plan.ckpt_every == 0 and not is_last:
            if count:  # carry a partial log interval into the checkpoint
                packed = torch.stack([loss_acc.double(), torch.tensor(float(count), dtype=torch.float64,
                                                                      device=device)])
                all_reduce_sum(packed, info)
                state.loss_sum += float(packed[0]) / info.world_size
                state.loss_count += int(round(float(packed[1]) / info.world_size))
                loss_acc.zero_()
                count = 0
                if guard(state.loss_sum / state.loss_count, done):
                    break
            state.wall_s = time.perf_counter() - wall_start
            save_ckpt(state)
            seg_start, seg_tokens = time.perf_counter(), 0
        if progress is not None:
            progress(done)
    state.wall_s = time.perf_counter() - wall_start
    return state
