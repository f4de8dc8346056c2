"""`run_training(config)`: one training run from shards to RUN/final, resumable.

RUN/
  config.yaml       resolved config          metrics.jsonl  per-log-step records
  summary.json      results-table row        checkpoints/   step-XXXXXXXX/ (last `keep`)
  final/            HF save_pretrained dir + slmscale.json   meta.json (kind "run", written last)
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from slmscale.artifacts import META, atomic_write_text, read_json, write_json, write_meta
from slmscale.data.loader import PackedStream, TrainBatches, validation_sequences
from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.locks import LOCK, exclusive
from slmscale.model.flops import flops_6nd, flops_full, model_flops_per_token
from slmscale.progress import info as say, make_progress
from slmscale.train import distributed as D
from slmscale.train.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint, set_aside_checkpoint
from slmscale.train.config import TrainConfig
from slmscale.train.final import run_tokenizer_info, save_final
from slmscale.train.loop import LoopState, Plan, evaluate, train_loop
from slmscale.train.metrics import MetricsLog, measure_matmul_peak
from slmscale.train.schedule import default_warmup

KIND = "run"
# Config sections whose change makes an existing run dir a different run.
IDENTITY_KEYS = ("seed", "data", "model", "budget", "train")
# ...except these keys, which change how the run is checked, not what it trains.
NOT_IDENTITY = {"data": ("verify",)}
RESUME_KEYS = ("step", "loss_sum", "loss_count", "wall_s")  # what a checkpoint's state.json must hold


def _device(cfg: TrainConfig) -> Any:
    import torch

    want = cfg.train.device
    if want == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device=cuda but no CUDA device is visible; use train.device=auto")
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(want)


def _precision(cfg: TrainConfig, device: Any) -> str:
    if cfg.train.precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return cfg.train.precision


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


def _identity(dumped: dict[str, Any]) -> dict[str, Any]:
    out = {k: dumped.get(k) for k in IDENTITY_KEYS}
    for section, keys in NOT_IDENTITY.items():
        if isinstance(out.get(section), dict):
            out[section] = {k: v for k, v in out[section].items() if k not in keys}
    return out


def _first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _first_difference(a.get(k), b.get(k), f"{prefix}{k}.")
            if d:
                return d
        return None
    return None if a == b else f"{prefix.rstrip('.')}: {b!r} here vs {a!r} in the run dir"


def _check_run_dir(run: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """Refuse a run dir made by a different config; return its summary if already finished."""
    saved = run / "config.yaml"
    if not saved.is_file():
        return None
    try:
        old = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"{saved}: damaged ({str(err).splitlines()[0]}); "
                        "restore it or delete the run folder") from None
    if not isinstance(old, dict):
        raise UserError(f"{saved}: not a config mapping; restore it or delete the run folder")
    diff = _first_difference(_identity(old), _identity(cfg.model_dump(mode="json")))
    if diff:
        raise UserError(f"{run} holds a run with a different config ({diff}); "
                        "use another --out or delete that folder")
    if (run / META).is_file() and (run / "summary.json").is_file():
        summary = read_json(run / "summary.json")
        if summary.get("status") == "finished":
            return summary
    return None


def _make_plan(cfg: TrainConfig, n_params: int, model_cfg: Any, world: int, peak: float) -> tuple[Plan, int]:
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


def _rng_state(device: Any) -> dict[str, Any]:
    import torch

    rng = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def _set_threads(cfg: TrainConfig, info: D.DistInfo, device: Any) -> None:
    import torch

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    elif device.type == "cpu" and info.local_world_size > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.local_world_size))


@dataclass
class _Job:
    """Everything the loop and the finish need, built once by `_setup`."""

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


def run_training(config: TrainConfig, resume: bool | None = None) -> dict[str, Any]:
    """Train one model as configured; returns the summary (also RUN/summary.json).

    resume=None resumes automatically when RUN has a checkpoint; True requires one; False
    refuses to touch a run dir that already has checkpoints. RUN is locked while training: a
    second process on the same RUN fails at once (`slmscale.locks.LockHeld`).
    A diverged run returns status "diverged" (no exception); unexpected errors mark it "failed".
    """
    cfg = config
    if not cfg.out:
        raise UserError("no run directory: set out in the config or pass --out RUN")
    run = Path(cfg.out).resolve()
    shards_path = Path(cfg.data.shards).resolve()
    shards = Shards(shards_path, verify=cfg.data.verify)
    run_tokenizer_info(shards.meta, shards_path)  # fail now, not after training, if eval could not use it
    valid_windows = validation_sequences(shards, cfg.data.valid_split, cfg.train.seq_len, cfg.eval.max_tokens)
    stream = PackedStream(shards, cfg.data.train_split, seed=cfg.seed, max_tokens=cfg.data.max_tokens)
    with _locked_run_dir(run):
        done = _check_run_dir(run, cfg)
        if done is not None:
            say(f"{run}: already finished with this config (loss {done.get('loss')}); nothing to do")
            return done
        ckpts = list_checkpoints(run / "checkpoints")
        if resume is True and not ckpts:
            raise UserError(f"--resume: {run} has no checkpoint to resume from")
        if resume is False and ckpts:
            raise UserError(f"{run} already has checkpoints; pass --resume or use another --out")
        job = _setup(cfg, run, shards_path, shards, stream, valid_windows)
        state = _resume(job, ckpts)
        base = _base_summary(job)
        state = _train(job, state, base)
        return _finalise(job, state, base)


@contextlib.contextmanager
def _locked_run_dir(run: Path) -> Iterator[None]:
    """Hold RUN/.lock (rank 0 of a distributed run takes it for all ranks). A run dir this call
    created and left holding only the lock (the run failed before writing) is removed again."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    created = not run.exists()
    try:
        with exclusive(run, "another training process"):
            yield
    finally:
        if created and run.is_dir() and {p.name for p in run.iterdir()} <= {LOCK}:
            with contextlib.suppress(OSError):
                (run / LOCK).unlink(missing_ok=True)
                run.rmdir()


def _setup(cfg: TrainConfig, run: Path, shards_path: Path, shards: Shards, stream: PackedStream,
           valid_windows: Any) -> _Job:
    """Device, processes, model, plan, batches and optimizer (no files written)."""
    import torch

    device = _device(cfg)
    info = D.init_distributed(device.type)
    _set_threads(cfg, info, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    precision = _precision(cfg, device)
    model = build_from_config(cfg, shards).to(device)
    if cfg.train.fused_kernels:
        from slmscale.model.kernels import fuse_rms_norms

        fuse_rms_norms(model)
    from slmscale.model.counting import param_counts

    n_params, n_total = param_counts(model)
    peak = cfg.train.peak_flops or measure_matmul_peak(
        device, torch.bfloat16 if precision == "bf16" else torch.float32, seconds=0.3)
    plan, budget = _make_plan(cfg, n_params, model.config, info.world_size, peak)
    batches = TrainBatches(stream, plan.seq_len, plan.global_batch, info.rank, info.world_size)
    optimizer = make_optimizer(model, cfg, device)
    mode = cfg.train.distributed
    wrapped = D.wrap_model(model, info, mode, device)
    optimizer = optimizer if not (info.enabled and mode == "fsdp") else make_optimizer(wrapped, cfg, device)
    train_model = torch.compile(wrapped) if cfg.train.compile else wrapped
    return _Job(cfg, run, shards_path, shards, stream, valid_windows, device, info, precision, mode, model,
                wrapped, optimizer, train_model, plan, budget, batches, n_params, n_total)


def _resume(job: _Job, ckpts: list[Path]) -> LoopState:
    """Load the newest checkpoint that loads cleanly (a fresh state when there is none).

    A damaged newer checkpoint is named, skipped, and renamed `.damaged-step-…` (kept for a look,
    out of the way of checkpoint rotation) once every rank has loaded the good one.
    """
    import torch

    if not ckpts:
        return LoopState()
    skipped: list[Path] = []
    for path in reversed(ckpts):
        try:
            m_state, o_state, rng, st = load_checkpoint(path, RESUME_KEYS)
            break
        except UserError as err:
            skipped.append(path)
            if job.info.is_main:
                say(f"skipping damaged checkpoint {path.name}: {err}")
    else:
        raise UserError(f"{job.run / 'checkpoints'}: every checkpoint is damaged ({len(skipped)}); "
                        "delete the checkpoints folder to train this run from the start")
    D.load_full_state(job.wrapped, job.optimizer, m_state, o_state, job.info, job.mode)
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and job.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], job.device)
    state = LoopState(step=st["step"], loss_sum=st["loss_sum"], loss_count=st["loss_count"],
                      wall_s=st["wall_s"], last_valid=st.get("last_valid"))
    D.barrier(job.info)
    if job.info.is_main:
        for path in skipped:
            set_aside_checkpoint(path)
        say(f"resuming {job.run.name} from step {state.step}/{job.plan.steps}"
            + (f" (skipped damaged {', '.join(p.name for p in skipped)})" if skipped else ""))
    return state


def _base_summary(job: _Job) -> dict[str, Any]:
    """The summary fields known before training: sizes, budget, FLOPs, hardware."""
    cfg, plan, shards, model = job.cfg, job.plan, job.shards, job.model
    tokens = plan.steps * plan.tokens_per_step
    from slmscale.train.lineage import init_compute, speech_tokens_trained

    # FLOPs count every trained token (text and speech alike); the speech share and the starting
    # model's own compute let a study report interleaved runs both ways (docs/study.md).
    speech = speech_tokens_trained(job.stream, shards, tokens)
    init = init_compute(cfg.model.init_from)
    flops = flops_6nd(job.n_params, tokens)
    return {"run_id": cfg.run_id or job.run.name, "shards": str(job.shards_path), "params": job.n_params,
            "params_total": job.n_total, "tokens": tokens, "tokens_budget": job.budget,
            "flops": flops,
            "flops_full": flops_full(model.config, plan.seq_len, tokens),
            "modality": shards.meta.get("modality"), "speech_tokens": speech,
            "speech_token_share": speech / tokens if tokens else None, **init,
            "flops_total": None if init["init_flops"] is None else flops + init["init_flops"],
            "epochs": job.batches.epochs(plan.steps), "steps": plan.steps, "seq_len": plan.seq_len,
            "batch_tokens": plan.tokens_per_step, "warmup_steps": plan.warmup,
            "world_size": job.info.world_size, "device": str(job.device), "precision": job.precision,
            "peak_flops": plan.peak_flops, "preset": cfg.model.preset, "init_from": cfg.model.init_from}


def _train(job: _Job, state: LoopState, base: dict[str, Any]) -> LoopState:
    """Write the run's config and running summary, then train to the end of the plan (or divergence)."""
    cfg, run, plan, info = job.cfg, job.run, job.plan, job.info
    log = None
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / "config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        write_json(run / "summary.json", {**base, "status": "running", "loss": None})
        log = MetricsLog(run, state.step, cfg.log.tensorboard, cfg.log.wandb, base["run_id"],
                         cfg.model_dump(mode="json"))
        say(f"training {base['run_id']}: N={job.n_params:,} non-embedding params, D={base['tokens']:,} tokens, "
            f"{plan.steps} steps of {plan.tokens_per_step:,} tokens, {info.world_size} process(es) on {job.device}")

    def save_ckpt(st: LoopState) -> None:
        m_sd = D.full_state_dict(job.wrapped, info, job.mode)
        o_sd = D.full_optimizer_state(job.wrapped, job.optimizer, info, job.mode)
        if info.is_main:
            save_checkpoint(run / "checkpoints", st.step, m_sd, o_sd, _rng_state(job.device),
                            {"loss_sum": st.loss_sum, "loss_count": st.loss_count, "wall_s": st.wall_s,
                             "last_valid": st.last_valid, "tokens": st.step * plan.tokens_per_step,
                             "data_position": {"sequences": st.step * plan.global_batch,
                                               "epoch": job.batches.epochs(st.step)}},
                            cfg.checkpoint.keep)
        D.barrier(info)

    def eval_fn() -> float:
        return evaluate(job.wrapped, job.valid_windows, cfg.eval.batch_size, job.device, job.precision, info,
                        sharded_params=job.mode == "fsdp")

    def write(record: dict[str, Any]) -> None:
        if log is not None:
            record = {**record, "flops": flops_6nd(job.n_params, record["tokens"])}
            log.write(record)

    try:
        with make_progress("step") as prog:
            task = prog.add_task(f"train {base['run_id']}", total=plan.steps, completed=state.step, rate="")
            show = (lambda s: prog.update(task, completed=s)) if info.is_main else None
            return train_loop(job.wrapped, job.optimizer, job.batches, plan, state, job.device, job.precision,
                              info, write, eval_fn, save_ckpt, show, job.train_model)
    except BaseException as err:
        if info.is_main and not isinstance(err, (KeyboardInterrupt, UserError)):
            # Best effort: on a full or read-only disk this write fails too, and the first error counts.
            with contextlib.suppress(OSError):
                write_json(run / "summary.json", {**base, "status": "failed", "loss": state.last_valid,
                                                  "message": f"{type(err).__name__}: {err}"})
        raise
    finally:
        if log is not None:
            log.close()


def _finalise(job: _Job, state: LoopState, base: dict[str, Any]) -> dict[str, Any]:
    """RUN/final (finished runs), the final summary.json, and meta.json last."""
    cfg, run, info = job.cfg, job.run, job.info
    status = "diverged" if state.diverged else "finished"
    summary = {**base, "status": status, "loss": state.last_valid if status == "finished" else None,
               "train_loss": state.last_train, "wall_s": state.wall_s, "tokens_per_s": state.tokens_per_s,
               "mfu": state.mfu, "steps_done": state.step}
    if state.diverged:
        summary["message"] = (f"diverged: {state.diverged}; lower train.lr or set train.grad_clip "
                              "(the last good checkpoint is kept)")
    final_sd = D.full_state_dict(job.wrapped, info, job.mode) if status == "finished" else None
    if info.is_main:
        if final_sd is not None:
            save_final(run, D.unwrap(job.wrapped), final_sd, job.shards, job.shards_path)
        write_json(run / "summary.json", summary)
        if status == "finished":
            write_meta(run, KIND, cfg, {"shards": job.shards.meta.get("fingerprint", "")},
                       **{k: summary[k] for k in ("params", "tokens", "loss", "steps", "status", "flops",
                                                  "modality", "speech_token_share", "init_flops",
                                                  "init_run", "flops_total")})
    D.barrier(info)
    D.shutdown(info)
    return summary
