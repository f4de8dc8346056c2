"""`units pretrain`: a HuBERT-style encoder learned from audio alone, saved as a transformers HubertModel.

Iteration 1 predicts k-means clusters of MFCC frames at masked positions; iteration n + 1 predicts
k-means clusters of iteration n's layer-L features (Hsu et al. 2021). The network is transformers'
`HubertModel` plus a linear head over the clusters (the head is dropped when saving). Training
uses the project's trainer parts: the lr schedule, atomic checkpoints (resume is bit-identical
after kill -9), metrics.jsonl, bf16 autocast and DDP under torchrun.

OUT/
  config.json, model.safetensors, preprocessor_config.json   the last iteration's HubertModel
  pretrain.json       per-iteration stats (losses, wall and CPU seconds, frames/s), the layer to use
  pretrain_identity.json   the config and input hashes of the work in this folder (resume check)
  iter-N/model/       each iteration's HubertModel (also usable with `units fit --encoder hubert`)
  iter-N/targets.safetensors   the iteration's cluster targets and centroids
  iter-N/metrics.jsonl         per-log-step loss, masked accuracy, lr, frames/s
  iter-N/checkpoints/          while an iteration runs (removed when it is done)
  meta.json           kind "hubert-pretrain", written last
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pydantic import ValidationError

from slmscale.artifacts import META, fingerprint, is_fresh, read_json, write_json, write_meta
from slmscale.data.manifest import read_manifest
from slmscale.errors import UserError
from slmscale.progress import info, make_progress
from slmscale.train import distributed as D
from slmscale.train.checkpoint import list_checkpoints, load_checkpoint, restore_rng, rng_state, save_checkpoint
from slmscale.train.loop import autocast_ctx, resolve_precision
from slmscale.train.metrics import MetricsLog
from slmscale.train.schedule import default_warmup, lr_at
from slmscale.cpus import usable_cpus
from slmscale.units.encoders import receptive_field
from slmscale.units.manifest_jobs import manifest_inputs
from slmscale.units.pretrain_config import PretrainConfig, hubert_config
from slmscale.units.pretrain_data import (Batches, Corpus, StepBatches, check_cross_voice, cluster_targets, load_corpus,
                                          target_encoder)

KIND = "hubert-pretrain"
IDENTITY = "pretrain_identity.json"  # config + input hashes of the work in progress
EVAL_ROWS = 16


def _predictor(cfg: PretrainConfig, k: int) -> Any:
    import torch
    from transformers import HubertModel

    class MaskedPredictor(torch.nn.Module):
        """HubertModel + a linear head over the k clusters; the loss of one batch."""

        def __init__(self) -> None:
            super().__init__()
            self.hubert = HubertModel(hubert_config(cfg))
            self.head = torch.nn.Linear(self.hubert.config.hidden_size, k)

        def forward(self, x: Any, mask: Any, targets: Any, view: Any = None) -> tuple[Any, Any, Any, Any]:
            """(total loss, masked cross-entropy, masked accuracy, consistency term)."""
            import torch.nn.functional as F

            want = view is not None
            out = self.hubert(x, mask_time_indices=mask.clone(), output_hidden_states=want)
            ce, acc, loss = self._losses(out.last_hidden_state, mask, targets)
            cons = torch.zeros((), device=x.device)
            if want:
                other = self.hubert(view, mask_time_indices=mask.clone(), output_hidden_states=True)
                ce_v, acc_v, loss_v = self._losses(other.last_hidden_state, mask, targets)
                ce, acc, loss = (ce + ce_v) / 2, (acc + acc_v) / 2, (loss + loss_v) / 2
                a = out.hidden_states[cfg.target_layer].float()
                b = other.hidden_states[cfg.target_layer].float()
                cons = (1 - F.cosine_similarity(a, b, dim=-1)).mean()
            return loss + cfg.consistency * cons, ce, acc, cons

        def _losses(self, hidden: Any, mask: Any, targets: Any) -> tuple[Any, Any, Any]:
            """Masked cross-entropy, masked accuracy, and the loss to train on (masked + the
            weighted unmasked term, HuBERT's alpha / (1 - alpha) split)."""
            import torch.nn.functional as F

            logits = self.head(hidden).float()
            ce_all = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
            m = mask.float()
            ce = (ce_all * m).sum() / m.sum()
            acc = ((logits.argmax(-1) == targets).float() * m).sum() / m.sum()
            loss = ce
            if cfg.unmasked > 0:
                loss = ce + cfg.unmasked * (ce_all * (1 - m)).sum() / (1 - m).sum().clamp(min=1)
            return ce, acc, loss

    return MaskedPredictor()


def _targets(cfg: PretrainConfig, it: int, corpus: Corpus, previous: Path | None,
             it_dir: Path) -> tuple[list[np.ndarray], float, dict]:
    """Cluster targets of the iteration (cached in iter-N/targets.safetensors); the target frames'
    centre offset in samples; stats."""
    from safetensors.numpy import load_file, save

    from slmscale.artifacts import atomic_write_bytes

    path, stats_path = it_dir / "targets.safetensors", it_dir / "targets.json"
    if path.is_file() and stats_path.is_file():
        stats = read_json(stats_path)
        flat = load_file(str(path))
        offsets = flat["offsets"]
        labels = [flat["labels"][offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    else:
        encoder = target_encoder(it, previous, cfg.target_layer)
        info(f"iteration {it}: targets = k-means (k={cfg.k_at(it)}) of "
             f"{'MFCC frames' if it == 1 else f'layer {cfg.target_layer} of iteration {it - 1}'}"
             f"{', whitened per voice' if it > 1 and cfg.target_voice_norm is not None else ''}"
             f"{', one consensus per text across voices' if cfg.cross_voice is not None else ''}")
        labels, centroids, stats = cluster_targets(encoder, corpus, cfg.k_at(it), cfg.seed + it, cfg.kmeans_frames,
                                                   cfg.target_voice_norm if it > 1 else None, cfg.cross_voice)
        offsets = np.cumsum([0] + [len(x) for x in labels]).astype(np.int64)
        it_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, save({"labels": np.concatenate(labels), "offsets": offsets,
                                       "centroids": centroids}))
        write_json(stats_path, stats)
    if it == 1:
        return labels, 0.0, stats  # MFCC frame j is centred on sample j * HOP
    from transformers import HubertConfig

    prev = HubertConfig.from_pretrained(previous)  # frame j of it hears samples j * HOP + [0, R)
    return labels, receptive_field(prev.conv_kernel, prev.conv_stride) / 2.0, stats


def _save_model(hubert: Any, dest: Path) -> None:
    """save_pretrained (safetensors) into a temporary folder, then rename into place."""
    from transformers import Wav2Vec2FeatureExtractor
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress and status lines only
    tmp = dest.parent / f".tmp-{dest.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    hubert.save_pretrained(tmp, safe_serialization=True)
    # Inputs are normalised per utterance in training; HubertEncoder reads this flag.
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(tmp)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def _to(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    import torch

    return {k: torch.as_tensor(v).to(device, non_blocking=True) for k, v in batch.items()}


def loader_workers(cfg: PretrainConfig, device: Any, local_processes: int) -> int:
    """Batch-building processes per training process (PretrainConfig.loader_workers)."""
    if cfg.loader_workers is not None:
        return cfg.loader_workers
    if device.type != "cuda":
        return 0
    return max(0, min(8, usable_cpus() // max(local_processes, 1) - 1))


def _batch_stream(source: StepBatches, workers: int, device: Any) -> Iterator[dict[str, Any]]:
    """The batches of `source` in step order, built by `workers` DataLoader processes (0: here)."""
    if not workers:
        return (source[i] for i in range(len(source)))
    import multiprocessing as mp

    from torch.utils.data import DataLoader

    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    return iter(DataLoader(source, batch_size=None, shuffle=False, num_workers=workers, prefetch_factor=4,
                           pin_memory=device.type == "cuda", multiprocessing_context=ctx))


def _evaluate(model: Any, batches: Batches, device: Any, precision: str) -> tuple[float, float]:
    """Masked-prediction loss and accuracy on a fixed batch of clean crops (seeded, step -1)."""
    import torch

    b = _to(batches.batch(-1, range(EVAL_ROWS), perturb=False), device)
    was = model.training
    model.eval()
    with torch.no_grad(), autocast_ctx(device, precision):
        _, ce, acc, _ = model(b["x"], b["mask"], b["targets"])
    model.train(was)
    return float(ce), float(acc)


def train_iteration(cfg: PretrainConfig, it: int, corpus: Corpus, labels: list[np.ndarray], centre0: float,
                    it_dir: Path, dist: D.DistInfo) -> dict[str, Any]:
    """Masked prediction of `labels` for cfg.steps_at(it) steps; saves it_dir/model; returns stats."""
    import torch

    device = D.pick_device(cfg.device, "device")
    precision = resolve_precision(cfg.precision, device)
    steps = cfg.steps_at(it)
    torch.manual_seed(cfg.seed * 1000 + it)
    model = _predictor(cfg, cfg.k_at(it)).to(device)
    hcfg = model.hubert.config
    batches = Batches(corpus, labels, centre0, cfg, it, receptive_field(hcfg.conv_kernel, hcfg.conv_stride),
                      lambda n: int(model.hubert._get_feat_extract_output_lengths(n)))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.peak_lr, betas=(0.9, 0.98), eps=1e-6,
                            weight_decay=cfg.weight_decay)
    ckpt_dir = it_dir / "checkpoints"
    state: dict[str, Any] = {"start_eval": None, "wall_s": 0.0}
    start = 0
    found = list_checkpoints(ckpt_dir)
    if found:
        model_state, opt_state, rng, state = load_checkpoint(found[-1])
        model.load_state_dict(model_state)
        opt.load_state_dict(opt_state)
        restore_rng(rng, device)
        start = int(state["step"])
        info(f"iteration {it}: resuming from step {start}")
    else:
        state["start_eval"] = _evaluate(model, batches, device, precision)
    warmup = cfg.warmup if cfg.warmup is not None else default_warmup(steps)
    train_model = D.wrap_model(model, dist, "ddp", device)
    rows = range(dist.rank, cfg.batch, dist.world_size)
    view = cfg.consistency > 0
    workers = loader_workers(cfg, device, dist.local_world_size)
    stream = _batch_stream(StepBatches(batches, start, steps, rows, view), workers, device)
    log = MetricsLog(it_dir, keep_until_step=start) if dist.is_main else None
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # ce, acc, consistency, count
    seg_t, seg_frames, wall0 = time.perf_counter(), 0, time.perf_counter() - float(state.get("wall_s", 0.0))
    cpu0 = time.process_time() - float(state.get("cpu_s", 0.0))
    with make_progress("steps", batch_lines=dist.is_main) as prog:  # one rank's lines in a batch log
        task = prog.add_task(f"pretrain iteration {it}", total=steps, completed=start, rate="")
        for step in range(start, steps):
            lr = lr_at(step, steps, cfg.peak_lr, cfg.min_lr, warmup)
            for group in opt.param_groups:
                group["lr"] = lr
            b = _to(next(stream), device)
            with autocast_ctx(device, precision):
                loss, ce, acc, cons = train_model(b["x"], b["mask"], b["targets"], b.get("view"))
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sums += torch.stack([ce.detach().double(), acc.detach().double(), cons.detach().double(),
                                 torch.ones((), dtype=torch.float64, device=device)])
            seg_frames += cfg.batch * batches.frames
            done = step + 1
            if done % cfg.log_every == 0 or done == steps:
                D.all_reduce_sum(sums, dist)
                n = float(sums[3])
                ce_m, acc_m, cons_m = (float(v) / n for v in sums[:3])
                if not np.isfinite(ce_m):
                    raise UserError(f"iteration {it}: masked-prediction loss became {ce_m} at step {done}; "
                                    "lower lr or raise warmup")
                now = time.perf_counter()
                fps = seg_frames / max(now - seg_t, 1e-9)
                if log is not None:
                    log.write({"step": done, "loss": ce_m, "masked_accuracy": acc_m, "consistency": cons_m,
                               "lr": lr, "frames_per_s": fps, "elapsed_s": now - wall0})
                prog.update(task, rate=f"loss {ce_m:.3f} acc {acc_m:.2f} {fps:,.0f} frames/s")
                sums.zero_()
                seg_t, seg_frames = now, 0
            if done % cfg.ckpt_every == 0 and done < steps:
                # Logged sums are zero here only when ckpt_every is a multiple of log_every;
                # otherwise the partial interval is dropped from the log, never from training.
                if dist.is_main:
                    state["wall_s"] = time.perf_counter() - wall0
                    state["cpu_s"] = time.process_time() - cpu0
                    save_checkpoint(ckpt_dir, done, model.state_dict(), opt.state_dict(), rng_state(device),
                                    state, cfg.keep_checkpoints)
                D.barrier(dist)
            prog.update(task, completed=done)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    end_eval = _evaluate(model, batches, device, precision)
    if log is not None:
        log.close()
    stats = {"steps": steps, "k": cfg.k_at(it), "crop_frames": batches.frames, "wall_s": round(wall, 2),
             "cpu_s": round(cpu, 2),  # process CPU time: the honest cost on a shared machine
             "frames_per_s": round(steps * cfg.batch * batches.frames / max(wall, 1e-9), 1),
             "eval_loss_start": state["start_eval"][0] if state["start_eval"] else None,
             "eval_loss_end": end_eval[0], "eval_accuracy_end": end_eval[1], "device": device.type,
             "precision": precision, "processes": dist.world_size}
    if dist.is_main:
        _save_model(model.hubert, it_dir / "model")
        write_json(it_dir / "done.json", stats)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    D.barrier(dist)
    return stats


def pretrain_encoder(cfg: PretrainConfig, out: str | Path, force: bool = False) -> Path:
    """Run every iteration (resuming a killed one), save the last model in `out`; returns `out`."""
    out = Path(out)
    manifest = Path(cfg.manifest).resolve()
    cfg = cfg.model_copy(update={"manifest": str(manifest)})
    entries = read_manifest(manifest)
    if cfg.cross_voice is not None:
        check_cross_voice(entries, manifest)  # before anything is written
    inputs = manifest_inputs(manifest, entries)
    fp = fingerprint(KIND, cfg.model_dump(mode="json"), inputs)
    if not force and is_fresh(out, fp):
        info(f"{out}: pretrained encoder is up to date (same manifest, audio and config); skipped")
        return out
    identity = {"config": cfg.model_dump(mode="json"), "inputs": inputs}
    dist = D.init_distributed(D.pick_device(cfg.device, "device").type)
    try:
        if dist.is_main:  # under torchrun, rank 0 alone touches the folder's bookkeeping
            _check_out(out, identity, force)
            (out / META).unlink(missing_ok=True)
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / IDENTITY, identity)
        D.barrier(dist)
        t0, cpu0 = time.perf_counter(), time.process_time()
        corpus = load_corpus(manifest, cfg.max_hours, cfg.seed)
        info(f"pretraining on {corpus.seconds / 3600:.2f} h ({len(corpus.wavs)} utterances; "
             f"{len(corpus.skipped)} skipped), preset {cfg.preset}, {cfg.iterations} iteration(s)")
        previous, per_iter = None, []
        for it in range(1, cfg.iterations + 1):
            it_dir = out / f"iter-{it}"
            if (it_dir / "done.json").is_file() and (it_dir / "model" / "config.json").is_file():
                per_iter.append(read_json(it_dir / "done.json"))
            else:
                if dist.is_main:  # the other ranks then read the cached targets
                    _targets(cfg, it, corpus, previous, it_dir)
                D.barrier(dist)
                labels, centre0, tstats = _targets(cfg, it, corpus, previous, it_dir)
                stats = train_iteration(cfg, it, corpus, labels, centre0, it_dir, dist)
                per_iter.append({**stats, "targets": tstats})
                if dist.is_main:
                    write_json(it_dir / "done.json", per_iter[-1])
            previous = it_dir / "model"
            first = per_iter[-1]["eval_loss_start"]
            info(f"iteration {it}: masked-prediction loss {'?' if first is None else f'{first:.3f}'} -> "
                 f"{per_iter[-1]['eval_loss_end']:.3f} on a fixed batch")
        if dist.is_main:
            for f in (previous or out).iterdir():
                shutil.copy2(f, out / f".tmp-{f.name}")
                os.replace(out / f".tmp-{f.name}", out / f.name)
            summary = {"iterations": per_iter, "layer": cfg.target_layer, "audio_hours": corpus.seconds / 3600,
                       "utterances": len(corpus.wavs), "skipped": corpus.skipped,
                       "wall_s": round(time.perf_counter() - t0, 1),
                       "cpu_s": round(time.process_time() - cpu0, 1)}
            write_json(out / "pretrain.json", summary)
            write_meta(out, KIND, cfg, inputs, **{k: v for k, v in summary.items() if k != "iterations"})
            info(f"{out}: HubertModel after {cfg.iterations} iteration(s); use it with `slmscale units fit "
                 f"--encoder hubert --checkpoint {out} --layer {cfg.target_layer}`, or compare its layers "
                 f"first with `slmscale units layers --checkpoint {out}`")
    finally:
        D.shutdown(dist)
    return out


def _check_out(out: Path, identity: dict[str, Any], force: bool) -> None:
    """Resume only work made by the same config and audio; refuse to mix two in one folder. A
    config that differs only where the iterations already there do not depend on (more
    iterations, another cadence, the steps of a later iteration) reuses them: a finished run grows."""
    saved = out / IDENTITY
    if saved.is_file() and not force:
        old = read_json(saved)
        if old == identity or _reusable(out, old, identity):
            return
        if old.get("config") != identity["config"]:
            diff = sorted(k for k in set(old.get("config", {})) | set(identity["config"])
                          if old.get("config", {}).get(k) != identity["config"].get(k))
            what = f"another config (differs in {', '.join(diff)})"
        else:
            what = "the same config but changed manifest or audio"
        raise UserError(f"{out} holds pretraining with {what}; use another --out, or --force to start over")
    for child in out.glob("iter-*"):
        shutil.rmtree(child, ignore_errors=True)


def _reusable(out: Path, old: dict[str, Any], identity: dict[str, Any]) -> bool:
    """Whether every iteration folder in `out` would be made the same by the new config."""
    if old.get("inputs") != identity["inputs"]:
        return False
    try:
        before, after = (PretrainConfig.model_validate(x["config"]) for x in (old, identity))
    except (ValidationError, KeyError, TypeError):
        return False  # written by another version: no reuse
    done = sorted(int(p.name.split("-")[1]) for p in out.glob("iter-*") if p.name.split("-")[1].isdigit())
    if any(before.iteration_identity(n) != after.iteration_identity(n) for n in done):
        return False
    info(f"{out}: keeping iteration(s) {', '.join(map(str, done)) or 'none'} (the new settings do not change them)")
    return True
