"""Evaluate a training run on one benchmark task and record the result in the run folder.

`evaluate_run(RUN, task, BENCH)`:
  1. loads `RUN/final` (AutoModelForCausalLM) and `RUN/final/slmscale.json`;
  2. reads the benchmark (audio for speech runs, the `text.jsonl` version for text runs and for the
     text versions on interleaved runs, crossmodal/ for cross-modal StoryCloze, see crossmodal.py);
  3. tokenises every item once per tokenizer (cached), scores it (eval.loglik), compares pairs;
  4. puts the headline's 95 % interval and, when the benchmark has an audit, the paired comparison
     with its strongest surface baseline into the summary (eval.scoring);
  5. writes `RUN/eval/<key>/scores.json`, the ZeroSpeech submission `RUN/eval/<key>/<split>.txt`
     and `meta.json`, then merges `{key: accuracy}` into `RUN/summary.json` under a file lock
     (key: the task's results name, see resolve_task). With `out`, `OUT/<key>/` instead and no
     summary. A result from another benchmark folder is refused unless `replace` (claim_result).
The headline number is the pair accuracy, except sBLIMP whose headline is the macro average over
phenomena (as reported in the papers).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from slmscale.artifacts import META, read_json, write_json, write_meta
from slmscale.errors import UserError
from slmscale.locks import exclusive, waiting
from slmscale.model.build import check_weights
from slmscale.eval.audit import strongest_baseline
from slmscale.eval.cache import default_cache_dir, encode_benchmark
from slmscale.eval.encoders import Encoder, encoder_from_run
from slmscale.eval.formats import (CROSS_TASKS, TEXT_TASKS, Benchmark, canonical_task, load_benchmark,
                                   task_parts)
from slmscale.eval.loglik import NORMALIZE, check_lengths, sequence_loglik
from slmscale.eval.protocols import DEFAULT_TRUNCATION, get_protocol, scoring_record
from slmscale.eval.scoring import MACRO_HEADLINE, summarize_pairs
from slmscale.eval.submission import write_submission

RUN_INFO = "slmscale.json"
MODALITIES = ("speech", "text")


def load_model(final: Path, device: str = "auto") -> Any:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress bars only
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    check_weights(final, "model")  # pickles and damaged safetensors: a one-line refusal naming the file
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
    return summary["macro_accuracy"] if task in MACRO_HEADLINE else summary["accuracy"]


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


def score_benchmark(model: Any, bench: Benchmark, encoder: Encoder, normalize: str | None = None,
                    batch_size: int = 64, cache_dir: Path | None = None, max_length: int | None = None,
                    protocol: str | None = None, truncation: str = DEFAULT_TRUNCATION,
                    surface: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scores per item key, the task summary, and bookkeeping (skips, truncation, cache).
    `surface`: the benchmark audit's strongest baseline, compared with in the summary."""
    proto = get_protocol(protocol)
    normalize = proto.resolve_normalize(normalize)
    tokens, failed, cached = encode_benchmark(bench, encoder, cache_dir)
    keys = sorted(tokens)
    max_len = max_length if max_length is not None else getattr(model.config, "max_position_embeddings", None)
    suffix = encoder.suffix if proto.eos else []
    check_lengths(bench.task, [len(encoder.prefix) + len(tokens[k]) + len(suffix) for k in keys], max_len,
                  truncation)
    t0 = time.perf_counter()
    ll = sequence_loglik(model, [tokens[k] for k in keys], prefix=encoder.prefix, suffix=suffix,
                         batch_size=batch_size, allowed_tokens=encoder.allowed_tokens if proto.restrict else None,
                         max_length=max_len, slide=truncation == "slide", progress=f"scoring {bench.task}")
    score_s = time.perf_counter() - t0
    scores = dict(zip(keys, ll.scores(normalize).tolist()))
    summary = summarize_pairs(bench.task, bench.source, bench.pairs, scores, failed, surface)
    summary.update({
        "protocol": proto.name, "protocol_detail": proto.to_dict(),
        "normalize": normalize, "split": bench.split, "modality": bench.modality,
        "bench": str(bench.source), "n_items": len(keys), "unreadable_items": sorted(failed),
        "truncated_items": ll.truncated, "truncation": truncation, "max_length": max_len,
        "tokens_cached": cached,
        "scored_tokens": int(ll.count.sum()), "score_seconds": round(score_s, 3),
        "utterances_per_s": round(len(keys) / score_s, 1) if score_s > 0 else None,
    })
    summary["headline"] = headline(bench.task, summary)
    return {"scores": scores, "summary": summary}


def merge_summary(run_dir: Path, values: dict[str, Any], nested: dict[str, dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """Read-modify-write RUN/summary.json under a lock, so parallel evals of one run keep all keys.
    `nested` merges one level deeper ({"eval_scoring": {task: ...}} keeps the other tasks' entries)."""
    path = run_dir / "summary.json"
    with waiting(run_dir / ".summary.lock"):
        current = read_json(path) if path.is_file() else {}
        current.update({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()})
        for k, v in (nested or {}).items():
            current[k] = {**(current.get(k) or {}), **v}
        write_json(path, current)
    return current


def read_run_info(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    final = run_dir / "final"
    if not (final / RUN_INFO).is_file():
        raise UserError(f"{run_dir}: no final/{RUN_INFO}; is this a finished `slmscale train` run?")
    return final, read_json(final / RUN_INFO)


def voice_statistics_for(run_dir: str | Path, task: str, voice_seconds: float | None = None) -> str | None:
    """What `eval_scoring` records as `voice_statistics` when TASK of this run is scored with
    `voice_seconds` (None: all of each voice's audio): None unless the run's speech tokenizer
    normalises per voice and the task is spoken."""
    from slmscale.eval.encoders import speech_voice_statistics
    from slmscale.eval.tasks import get_task

    if get_task(task).variant == "text":
        return None
    final, info = read_run_info(Path(run_dir))
    return speech_voice_statistics(info, final / RUN_INFO, voice_seconds)


def run_modality(info: dict[str, Any]) -> str:
    """units | unigram | text | interleaved (RUN/final/slmscale.json)."""
    return str(info.get("modality") or (info.get("tokenizer") or {}).get("kind") or "")


def resolve_task(task: str, modality: str | None, run_kind: str, where: Path | str = "",
                 encoder_modality: str | None = None) -> tuple[str, str, str]:
    """(benchmark task, variant, results key) for TASK asked of a run of modality RUN_KIND.

    variant: speech | text | t2s | s2t. Keys: the speech task's own name; `<task>_text` names
    (TEXT_TASKS) for text versions on an interleaved run or when asked by that name; a text run's
    text version keeps the plain name (it is that run's only version); cross-modal names as they are.
    """
    name = canonical_task(task)
    base, variant = task_parts(name)
    at = f"{where}: " if str(where) else ""
    if modality is not None and modality not in MODALITIES:
        raise UserError(f"--modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    if variant in ("t2s", "s2t"):
        if modality is not None:
            raise UserError(f"{name} is cross-modal (fixed modalities); drop --modality")
        if run_kind != "interleaved":
            raise UserError(f"{at}cross-modal task {name} needs an interleaved speech-text run, "
                            f"this run's modality is {run_kind!r}")
        return base, variant, name
    if variant == "text":
        if modality == "speech":
            raise UserError(f"{name} is the text version of {base}; it cannot be scored with --modality speech")
    elif modality is not None:
        variant = modality
    elif encoder_modality is not None:  # an encoder passed in decides, as before
        variant = "text" if encoder_modality == "text" else "speech"
        return base, variant, base
    elif run_kind == "text":
        variant = "text"
    if variant == "speech" and run_kind == "text":
        raise UserError(f"{at}a text run cannot score the speech version of {base}; drop --modality speech")
    if variant == "text" and run_kind not in ("text", "interleaved") and encoder_modality is None:
        raise UserError(f"{at}{TEXT_TASKS[base]} needs a text or interleaved run, this run's "
                        f"modality is {run_kind!r} (speech only)")
    if variant == "speech":
        return base, variant, base
    return base, variant, base if (run_kind == "text" and name == base) else TEXT_TASKS[base]


def evaluate_run(run_dir: str | Path, task: str, bench_dir: str | Path, normalize: str | None = None, *,
                 modality: str | None = None, split: str = "dev", batch_size: int = 64,
                 encoder: Any = None, cache_dir: str | Path | None = None, device: str = "auto",
                 model: Any = None, protocol: str | None = None, truncation: str = DEFAULT_TRUNCATION,
                 out: str | Path | None = None, replace: bool = False,
                 voice_seconds: float | None = None) -> dict[str, Any]:
    """Score RUN on TASK from BENCH; returns the summary dict also written to scores.json.

    TASK: a speech task (swuggy, sblimp, ssc, tsc), a text version (`<task>_text`, or the speech
    name with `modality="text"`), or a cross-modal StoryCloze task (`sstorycloze_t2s`, ...; only
    interleaved runs). Results go to RUN/eval/<key>/ and summary.json under <key> (resolve_task);
    with `out`, to OUT/<key>/ only (a score on another bench, the run's own result untouched).
    A result made from another benchmark folder is replaced only with `replace` (claim_result).
    `encoder` overrides the run's tokenisation (a CrossEncoders for cross-modal tasks).
    `voice_seconds`: a voice-normalised tokenizer takes each benchmark voice's statistics from
    that much of its audio, ranked by item name (default None: all of it)."""
    run_dir = Path(run_dir)
    if normalize is not None and normalize not in NORMALIZE:
        raise UserError(f"--normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}")
    proto = get_protocol(protocol)
    normalize = proto.resolve_normalize(normalize)
    if batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    canonical_task(task)  # an unknown task fails before the run is read
    final, info = read_run_info(run_dir)
    where = final / RUN_INFO
    enc_modality = getattr(encoder, "modality", None) if modality is None else None
    base, variant, key = resolve_task(task, modality, run_modality(info), where, enc_modality)
    eval_root = Path(out) if out is not None else run_dir / "eval"
    folder = eval_root / key
    # One writer per result folder: a second eval of the same key fails at once instead of mixing files.
    with exclusive(eval_root, f"an eval of {key}", name=f".{key}.lock"):
        cache = Path(cache_dir) if cache_dir else default_cache_dir(Path(bench_dir))
        if variant in ("t2s", "s2t"):
            from slmscale.eval.crossmodal import CrossEncoders, score_crossmodal

            bench: Any = load_task_bench(bench_dir, base, variant, key, split)
            claim_result(folder, bench.source, bench_dir, replace)
            encs = encoder if isinstance(encoder, CrossEncoders) else CrossEncoders()
            encs = CrossEncoders(encs.speech or encoder_from_run(info, where, voice_seconds=voice_seconds),
                                 encs.text or encoder_from_run(info, where, text=True))
            enc_key = [encs.speech.key, encs.text.key]
            voice_stats = getattr(encs.speech, "voice_statistics", None)
            tokens_from = getattr(encs.speech, "tokens_from", None)
            if model is None:
                model = load_model(final, device)
            result = score_crossmodal(model, bench, encs, normalize, batch_size, cache,
                                      max_length=context_length(run_dir, model), protocol=proto.name,
                                      truncation=truncation)
        else:
            if encoder is None:
                encoder = encoder_from_run(info, where, text=variant == "text", voice_seconds=voice_seconds)
            enc_key = encoder.key
            voice_stats = getattr(encoder, "voice_statistics", None)
            tokens_from = getattr(encoder, "tokens_from", None)  # the draw LMs on these tokens share
            bench = load_task_bench(bench_dir, base, variant, key, split)
            claim_result(folder, bench.source, bench_dir, replace)
            if model is None:
                model = load_model(final, device)
            result = score_benchmark(model, bench, encoder, normalize, batch_size, cache,
                                     max_length=context_length(run_dir, model), protocol=proto.name,
                                     truncation=truncation, surface=strongest_baseline(bench_dir, base))
        summary = result["summary"]
        summary.update(task=key, benchmark=base, variant=variant, run=str(run_dir.resolve()))
        if voice_stats is not None:
            summary["voice_statistics"] = voice_stats
        _clear_result(folder)  # no file of the result it replaces survives beside the new one
        write_json(folder / "scores.json", summary)
        write_submission(folder / f"{bench.split}.txt", result["scores"])
        write_meta(folder, "eval", {"task": key, "benchmark": base, "variant": variant,
                                    "bench": str(Path(bench_dir).resolve()),
                                    "source": str(Path(bench.source).resolve()), "split": split,
                                    "normalize": normalize, "protocol": proto.name, "truncation": truncation,
                                    "voice_statistics": voice_stats, "encoder": enc_key,
                                    "tokens_from": tokens_from},
                   accuracy=summary["headline"])
        if out is None:  # a side score (--out) leaves the run's summary alone
            # Per task, how it was scored: a study whose scoring changes re-scores (slmscale.study.worker).
            merge_summary(run_dir, {key: summary["headline"], "eval_protocol": proto.name},
                          nested={"eval_scoring": {key: scoring_record(proto.name, truncation, voice_stats)}})
        return summary


def load_task_bench(bench_dir: str | Path, base: str, variant: str, key: str, split: str) -> Any:
    """The pairs a task is scored on (a Benchmark, or a CrossBench for the cross-modal tasks)."""
    if variant in ("t2s", "s2t"):
        from slmscale.eval.crossmodal import locate_crossmodal, read_crossmodal

        return read_crossmodal(locate_crossmodal(bench_dir, key), key)
    return load_benchmark(bench_dir, base, split, text=variant == "text")


def check_results(run_dir: str | Path, tasks: list[str], bench_dir: str | Path, *, modality: str | None = None,
                  split: str = "dev", out: str | Path | None = None, replace: bool = False) -> None:
    """Every refusal `evaluate_run` would make for TASKS about where their results go, made at once,
    so that `eval --all` stops before scoring the first task rather than at the third."""
    final, info = read_run_info(Path(run_dir))
    eval_root = Path(out) if out is not None else Path(run_dir) / "eval"
    for task in tasks:
        base, variant, key = resolve_task(task, modality, run_modality(info), final / RUN_INFO)
        claim_result(eval_root / key, load_task_bench(bench_dir, base, variant, key, split).source, bench_dir,
                     replace)


RESULT_FILES = ("scores.json", META)


def _is_result_file(path: Path) -> bool:
    return path.name in RESULT_FILES or path.suffix == ".txt"


def claim_result(out: Path, source: str | Path, bench_dir: str | Path, replace: bool) -> None:
    """Refuse, before any scoring, to overwrite what OUT holds that is not a result from SOURCE
    (the task folder read; results written before it was recorded name BENCH_DIR only).

    A finished result (meta.json) from another benchmark folder is replaced only with `replace`:
    scoring one run on a second bench must not silently lose the first bench's per-pair scores
    and summary entry. A folder holding other files than a result's is never written into."""
    if not out.is_dir():
        return
    foreign = sorted(p.name for p in out.iterdir() if not _is_result_file(p))
    if foreign:
        raise UserError(f"{out}: holds {', '.join(foreign[:3])}, which no eval writes; "
                        "move them away or give --out a new folder")
    if replace or not (out / META).is_file():
        return  # an unfinished result (no meta.json) is always redone
    config = (read_json(out / META).get("config") or {})
    field, now = ("source", source) if config.get("source") else ("bench", bench_dir)
    before, now = config.get(field), Path(now).resolve()
    if before and Path(before) != now:
        raise UserError(f"{out}: holds the {config.get('task', out.name)} score from {before}; scoring "
                        f"{now} would replace it: give --out DIR to keep both, or --replace")


def _clear_result(out: Path) -> None:
    """Remove a previous result, meta.json first (its absence marks the folder unfinished)."""
    if out.is_dir():
        (out / META).unlink(missing_ok=True)
        for p in out.iterdir():
            if _is_result_file(p):
                p.unlink()


def available_tasks(bench_dir: str | Path, text: bool = False, split: str = "dev") -> list[str]:
    """Benchmark tasks whose folders exist under a benchmark root (speech, or text with `text`)."""
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


def run_tasks(bench_dir: str | Path, run_kind: str, split: str = "dev", modality: str | None = None
              ) -> list[str]:
    """Every task a run of modality RUN_KIND can be scored on from BENCH (`slmscale eval --all`):
    speech runs the speech tasks, text runs the text versions (plain keys), interleaved runs the
    speech tasks, the `<task>_text` versions and the cross-modal tasks (all three unless
    `modality` picks speech or text)."""
    from slmscale.eval.crossmodal import locate_crossmodal

    if modality is not None and modality not in MODALITIES:
        raise UserError(f"--modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    if run_kind == "text":
        if modality == "speech":
            raise UserError("a text run has no speech versions of the tasks; drop --modality speech")
        return available_tasks(bench_dir, text=True)
    if run_kind != "interleaved":
        if modality == "text":
            raise UserError(f"a {run_kind!r} run has no text versions of the tasks; drop --modality text")
        return available_tasks(bench_dir, split=split)
    tasks = available_tasks(bench_dir, split=split) if modality in (None, "speech") else []
    if modality in (None, "text"):
        tasks += [TEXT_TASKS[t] for t in available_tasks(bench_dir, text=True)]
    if modality is None:
        for name in CROSS_TASKS.values():
            try:
                locate_crossmodal(bench_dir, name)
            except UserError:
                continue
            tasks.append(name)
    return tasks
