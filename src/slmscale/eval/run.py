"""Evaluate a training run on one benchmark task and record the result in the run folder.

`evaluate_run(RUN, task, BENCH)`:
  1. loads `RUN/final` (AutoModelForCausalLM) and `RUN/final/slmscale.json`;
  2. reads the benchmark (audio for speech runs, the `text.jsonl` version for text runs);
  3. tokenises every item once per tokenizer (cached), scores it (eval.loglik), compares pairs;
  4. writes `RUN/eval/<task>/scores.json`, the ZeroSpeech submission `RUN/eval/<task>/<split>.txt`
     and `meta.json`, then merges `{task: accuracy}` into `RUN/summary.json` under a file lock.
The headline number is the pair accuracy, except sBLIMP whose headline is the macro average over
phenomena (as reported in the papers).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import time
from pathlib import Path
from typing import Any, Iterator

from slmscale.artifacts import read_json, write_json, write_meta
from slmscale.errors import UserError
from slmscale.eval.cache import default_cache_dir, encode_benchmark
from slmscale.eval.encoders import Encoder, encoder_from_run
from slmscale.eval.formats import Benchmark, canonical_task, load_benchmark
from slmscale.eval.loglik import NORMALIZE, sequence_loglik
from slmscale.eval.scoring import Comparison, summarize
from slmscale.eval.submission import write_submission

RUN_INFO = "slmscale.json"


def load_model(final: Path, device: str = "auto") -> Any:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress bars only
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        model = AutoModelForCausalLM.from_pretrained(str(final), local_files_only=True,
                                                     dtype=torch.float32)
    except (OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"{final}: cannot load the model ({first})") from None
    from slmscale.model.kernels import fuse_rms_norms

    fuse_rms_norms(model)  # the trainer's fused RMSNorm: same math, faster on CPU
    return model.to(device).eval()


def headline(task: str, summary: dict[str, Any]) -> float:
    return summary["macro_accuracy"] if task == "sblimp" else summary["accuracy"]


def context_length(run_dir: Path, model: Any) -> int | None:
    """Longest sequence to score: the run's training window (`train.seq_len` in RUN/config.yaml),
    since positions beyond it were never trained, capped by the model's position limit."""
    limits = [getattr(model.config, "max_position_embeddings", None)]
    cfg = run_dir / "config.yaml"
    if cfg.is_file():
        import yaml

        try:
            limits.append(((yaml.safe_load(cfg.read_text()) or {}).get("train") or {}).get("seq_len"))
        except (yaml.YAMLError, AttributeError):
            pass
    limits = [int(x) for x in limits if isinstance(x, int) and x > 0]
    return min(limits) if limits else None


def score_benchmark(model: Any, bench: Benchmark, encoder: Encoder, normalize: str = "mean",
                    batch_size: int = 64, cache_dir: Path | None = None, max_length: int | None = None
                    ) -> dict[str, Any]:
    """Scores per item key, the task summary, and bookkeeping (skips, truncation, cache)."""
    tokens, failed, cached = encode_benchmark(bench, encoder, cache_dir)
    keys = sorted(tokens)
    max_len = max_length if max_length is not None else getattr(model.config, "max_position_embeddings", None)
    t0 = time.perf_counter()
    ll = sequence_loglik(model, [tokens[k] for k in keys], prefix=encoder.prefix, suffix=encoder.suffix,
                         batch_size=batch_size, allowed_tokens=encoder.allowed_tokens,
                         max_length=max_len, progress=f"scoring {bench.task}")
    score_s = time.perf_counter() - t0
    scores = dict(zip(keys, ll.scores(normalize).tolist()))
    usable = [p for p in bench.pairs if p.good in scores and p.bad in scores]
    skipped = sorted({f"{p.pair_id}/{p.voice}" for p in bench.pairs
                      if p.good not in scores or p.bad not in scores})
    if not usable:
        raise UserError(f"{bench.source}: no pair could be scored ({len(failed)} unreadable item(s), "
                        f"e.g. {', '.join(failed[:5])})")
    comps = [Comparison(p.pair_id, p.voice, scores[p.good], scores[p.bad], p.group) for p in usable]
    summary = summarize(bench.task, comps)
    summary.update({
        "normalize": normalize, "split": bench.split, "modality": bench.modality,
        "bench": str(bench.source), "n_items": len(keys), "unreadable_items": sorted(failed),
        "skipped_pairs": skipped, "truncated_items": ll.truncated, "max_length": max_len,
        "tokens_cached": cached,
        "scored_tokens": int(ll.count.sum()), "score_seconds": round(score_s, 3),
        "utterances_per_s": round(len(keys) / score_s, 1) if score_s > 0 else None,
    })
    summary["headline"] = headline(bench.task, summary)
    return {"scores": scores, "summary": summary}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def merge_summary(run_dir: Path, values: dict[str, float]) -> dict[str, Any]:
    """Read-modify-write RUN/summary.json under a lock, so parallel evals of one run keep all keys."""
    path = run_dir / "summary.json"
    with _locked(run_dir / ".summary.lock"):
        current = read_json(path) if path.is_file() else {}
        current.update({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()})
        write_json(path, current)
    return current


def read_run_info(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    final = run_dir / "final"
    if not (final / RUN_INFO).is_file():
        raise UserError(f"{run_dir}: no final/{RUN_INFO}; is this a finished `slmscale train` run?")
    return final, read_json(final / RUN_INFO)


def evaluate_run(run_dir: str | Path, task: str, bench_dir: str | Path, normalize: str = "mean", *,
                 split: str = "dev", batch_size: int = 64, encoder: Encoder | None = None,
                 cache_dir: str | Path | None = None, device: str = "auto", model: Any = None
                 ) -> dict[str, Any]:
    """Score RUN on TASK from BENCH; returns the summary dict also written to scores.json."""
    run_dir = Path(run_dir)
    task = canonical_task(task)
    if normalize not in NORMALIZE:
        raise UserError(f"--normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}")
    if batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    final, info = read_run_info(run_dir)
    if encoder is None:
        encoder = encoder_from_run(info, final / RUN_INFO)
    bench = load_benchmark(bench_dir, task, split, text=encoder.modality == "text")
    if model is None:
        model = load_model(final, device)
    cache = Path(cache_dir) if cache_dir else default_cache_dir(Path(bench_dir))
    result = score_benchmark(model, bench, encoder, normalize, batch_size, cache,
                             max_length=context_length(run_dir, model))
    out = run_dir / "eval" / task
    summary = result["summary"]
    summary["run"] = str(run_dir.resolve())
    write_json(out / "scores.json", summary)
    write_submission(out / f"{bench.split}.txt", result["scores"])
    write_meta(out, "eval", {"task": task, "bench": str(Path(bench_dir).resolve()), "split": split,
                             "normalize": normalize, "encoder": encoder.key},
               accuracy=summary["headline"])
    merge_summary(run_dir, {task: summary["headline"]})
    return summary


def available_tasks(bench_dir: str | Path, text: bool = False, split: str = "dev") -> list[str]:
    """Tasks whose folders exist under a benchmark root (for `--all`)."""
    from slmscale.eval.formats import TASK_DIRS, TASKS, locate, locate_text

    found = []
    for task in TASKS:
        folder = Path(bench_dir) / TASK_DIRS[task]  # only the standard sub-folders count here
        if not folder.is_dir():
            continue
        try:
            locate_text(folder, task) if text else locate(folder, task, split)
        except UserError:
            continue
        found.append(task)
    return found
