"""`run_training(config)`: one training run from shards to RUN/final, resumable.

RUN/
  config.yaml       resolved config          metrics.jsonl  per-log-step records
  summary.json      results-table row        checkpoints/   step-XXXXXXXX/ (last `keep`)
  final/            HF save_pretrained dir + slmscale.json   meta.json (kind "run", written last)
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import yaml

from slmscale.artifacts import atomic_write_text, write_json, write_meta
from slmscale.data.loader import PackedStream, validation_sequences
from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.model.flops import flops_6nd, flops_full
from slmscale.progress import info as say, make_progress
from slmscale.train import distributed as D
from slmscale.train.checkpoint import (list_checkpoints, load_checkpoint, restore_rng, rng_state, save_checkpoint,
                                      set_aside_checkpoint)
from slmscale.train.config import TrainConfig
from slmscale.train.final import run_tokenizer_info, save_final
from slmscale.train.job import TrainJob, build_from_config, build_job, make_optimizer
from slmscale.train.loop import LoopState, evaluate, train_loop
from slmscale.train.metrics import MetricsLog
from slmscale.train.rundir import check_run_dir, locked_run_dir

# build_from_config and make_optimizer moved to train/job.py; still importable from here.
__all__ = ["KIND", "build_from_config", "make_optimizer", "run_training"]

KIND = "run"
RESUME_KEYS = ("step", "loss_sum", "loss_count", "wall_s")  # what a checkpoint's state.json must hold


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
    with locked_run_dir(run):
        done = check_run_dir(run, cfg)
        if done is not None:
            say(f"{run}: already finished with this config (loss {done.get('loss')}); nothing to do")
            return done
        ckpts = list_checkpoints(run / "checkpoints")
        if resume is True and not ckpts:
            raise UserError(f"--resume: {run} has no checkpoint to resume from")
        if resume is False and ckpts:
            raise UserError(f"{run} already has checkpoints; pass --resume or use another --out")
        job = build_job(cfg, run, shards_path, shards, stream, valid_windows)
        state = _resume(job, ckpts)
        base = _base_summary(job)
        state = _train(job, state, base)
        return _finalise(job, state, base)


def _resume(job: TrainJob, ckpts: list[Path]) -> LoopState:
    """Load the newest checkpoint that loads cleanly (a fresh state when there is none).

    A damaged newer checkpoint is named, skipped, and renamed `.damaged-step-…` (kept for a look,
    out of the way of checkpoint rotation) once every rank has loaded the good one.
    """
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
    restore_rng(rng, job.device)
    state = LoopState(step=st["step"], loss_sum=st["loss_sum"], loss_count=st["loss_count"],
                      wall_s=st["wall_s"], last_valid=st.get("last_valid"))
    D.barrier(job.info)
    if job.info.is_main:
        for path in skipped:
            set_aside_checkpoint(path)
        say(f"resuming {job.run.name} from step {state.step}/{job.plan.steps}"
            + (f" (skipped damaged {', '.join(p.name for p in skipped)})" if skipped else ""))
    return state


def _base_summary(job: TrainJob) -> dict[str, Any]:
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


def _train(job: TrainJob, state: LoopState, base: dict[str, Any]) -> LoopState:
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
            save_checkpoint(run / "checkpoints", st.step, m_sd, o_sd, rng_state(job.device),
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
        with make_progress("step", batch_lines=False) as prog:  # with_step_lines writes those
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


def _finalise(job: TrainJob, state: LoopState, base: dict[str, Any]) -> dict[str, Any]:
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
