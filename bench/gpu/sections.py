"""The measurements of bench/gpu/run.py. Each runs in a process of its own (a crash, a hang or an
out-of-memory error costs only its own section), takes a spec dict and returns a result dict.

Training goes through the project's own entry point (`slmscale train`, in-process, as users start
it) or through Hugging Face `Trainer` with the same model and sequences (bench/train_throughput.py
holds both, shared with the CPU comparison).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import resource
import sys
import time
import wave
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parents[1]
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import train_throughput as tt  # noqa: E402  (bench/ is not a package)

PACKAGES = ("torch", "transformers", "accelerate", "pydantic", "numpy", "triton", "slmscale")


def _device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: Any, dtype: Any, size: int, seconds: float, inner: int) -> float:
    """Sustained FLOP/s of back-to-back square matmuls (the best of repeated loops of `inner`)."""
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    c = torch.empty(size, size, device=device, dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b, out=c)
    _sync(device)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds or best == 0.0:
        t = time.perf_counter()
        for _ in range(inner):
            torch.matmul(a, b, out=c)
        _sync(device)
        best = max(best, 2.0 * size**3 * inner / (time.perf_counter() - t))
    return best


def env(spec: dict) -> dict:
    """Package versions, the device, and the measured matmul peak (bf16 on GPU, fp32 on CPU)."""
    import platform

    import torch

    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    from slmscale import __version__

    versions["slmscale"] = __version__  # the source tree being measured, installed or not
    device = _device()
    out: dict[str, Any] = {"python": platform.python_version(), "packages": versions,
                           "cuda": torch.version.cuda, "device": device.type,
                           "cpu": platform.processor() or platform.machine(), "cpu_count": _cpus()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        out.update(gpu_name=props.name, gpu_count=torch.cuda.device_count(),
                   gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   gpu_capability=f"{props.major}.{props.minor}", gpu_driver=_driver())
        torch.backends.cuda.matmul.allow_tf32 = True
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.set_num_threads(spec.get("threads") or torch.get_num_threads())
    out["peak_flops_measured"] = matmul_peak(device, dtype, spec["peak_size"], spec["peak_seconds"],
                                             spec["peak_inner"])
    out["peak_dtype"] = str(dtype).removeprefix("torch.")
    out["peak_matmul"] = f"{spec['peak_size']}^3, loops of {spec['peak_inner']}, best over {spec['peak_seconds']} s"
    return out


def _driver() -> str | None:
    """The NVIDIA driver version, which torch does not report (None without nvidia-smi)."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        res = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = res.stdout.split()
    return lines[0] if res.returncode == 0 and lines else None


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def peak_memory() -> dict:
    import torch

    if torch.cuda.is_available():
        return {"peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                "peak_mem_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2),
                "peak_mem_kind": "torch.cuda.max_memory_allocated"}
    return {"peak_mem_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "peak_mem_kind": "process peak RSS (CPU)"}


def _force_wrapped_world_of_one() -> None:
    """`torchrun --nproc-per-node=1` is a world of one, which the trainer runs unwrapped (there is
    nothing to synchronise). To measure what DDP and FSDP2 themselves cost on one GPU, start the
    one-process group here and let the trainer treat it as distributed: its DDP / FSDP2 wrapping,
    all-reduces, sharded optimizer and state-dict gathering then all run."""
    import torch
    import torch.distributed as dist

    from slmscale.train import distributed as D

    if torch.cuda.is_available():
        torch.cuda.set_device(0)
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    D.DistInfo.enabled = property(lambda self: True)


def _default_compile_backend(backend: str) -> None:
    """The CPU smoke run compiles with dynamo's "eager" backend: the graph capture of the trainer's
    model runs (where a model change would break compilation) without inductor's minutes of C++
    code generation on CPU."""
    import functools

    import torch

    torch.compile = functools.partial(torch.compile, backend=backend)


def train(spec: dict) -> dict:
    """`slmscale train` (eager or compiled; alone, or DDP / FSDP2 under torchrun)."""
    if spec["distributed"] != "none":
        _force_wrapped_world_of_one()
    if spec["compile"] and spec.get("compile_backend"):
        _default_compile_backend(spec["compile_backend"])
    work = Path(spec["work"])
    cfg = tt.train_config(Path(spec["shards"]), work / "run", spec["preset"], seq_len=spec["seq_len"],
                          batch=spec["batch"], steps=spec["warmup"] + spec["steps"], micro=spec["micro"],
                          threads=spec.get("threads"), compile=spec["compile"],
                          distributed=spec["distributed"] if spec["distributed"] != "none" else "ddp")
    with contextlib.redirect_stdout(sys.stderr):
        times = tt.run_ours(cfg, work / "config.yaml", spec["warmup"])
    return {"step_s": times, **peak_memory()}


def hf(spec: dict) -> dict:
    """Hugging Face `Trainer` on the same model, sequences and optimizer settings."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    times, settings = tt.hf_step_times(Path(spec["shards"]), Path(spec["work"]) / "hf", spec["preset"],
                                       seq_len=spec["seq_len"], batch=spec["batch"], steps=spec["steps"],
                                       warmup=spec["warmup"], micro=spec["micro"], threads=spec.get("threads"))
    return {"step_s": times, "hf_settings": settings, **peak_memory()}


def evaluate(spec: dict) -> dict:
    """Utterances scored per second by slmscale.eval.loglik (the `slmscale eval` path), on
    sBLIMP-like random utterances of 40-160 units; fp32 weights (what `slmscale eval` loads) and bf16."""
    import torch

    from slmscale.eval.loglik import sequence_loglik
    from slmscale.model.build import build_model
    from slmscale.model.kernels import fuse_rms_norms
    from slmscale.model.presets import resolve_preset

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    k = spec["k"]
    device = _device()
    model = build_model(resolve_preset(spec["preset"]), k + 2, {"bos": k, "eos": k + 1}, 2048, seed=0)
    fuse_rms_norms(model)
    model = model.to(device).eval()
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, k, size=int(rng.integers(40, 161))) for _ in range(spec["utterances"])]
    tokens = int(sum(len(s) + 2 for s in seqs))  # prefix EOS + content + suffix EOS
    runs = []
    for dtype in ("float32", "bfloat16"):
        model = model.to(getattr(torch, dtype))
        for batch, max_tokens in spec["batches"]:
            opts = {"prefix": [k + 1], "suffix": [k + 1], "batch_size": batch, "max_batch_tokens": max_tokens}
            sequence_loglik(model, seqs[:batch], **opts)  # warm-up (kernels, allocator)
            _sync(device)
            t = time.perf_counter()
            sequence_loglik(model, seqs, **opts)  # returns numpy arrays: the work is finished
            dt = time.perf_counter() - t
            runs.append({"dtype": dtype, "batch_size": batch, "max_batch_tokens": max_tokens,
                         "utterances_per_s": round(len(seqs) / dt, 1), "tokens_per_s": round(tokens / dt, 1)})
    return {"utterances": len(seqs), "tokens": tokens, "runs": runs, **peak_memory()}


def _write_tone_wav(path: Path, seconds: float, rate: int, rng: np.random.Generator) -> None:
    """Speech-like test audio without any audio library: 100 ms segments of two random
    'formant' sines plus a little noise, 16-bit PCM."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    seg = (t // 0.1).astype(int)
    f1 = rng.uniform(200, 900, seg.max() + 1)[seg]
    f2 = rng.uniform(900, 2500, seg.max() + 1)[seg]
    x = 0.4 * np.sin(2 * math.pi * f1 * t) + 0.2 * np.sin(2 * math.pi * f2 * t) + 0.02 * rng.standard_normal(n)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def pretrain(spec: dict) -> dict:
    """`slmscale units pretrain` (self-supervised unit encoder) on generated audio, when the
    command exists in this tree; audio seconds per wall second, and its own logged rates."""
    if importlib.util.find_spec("slmscale.units.pretrain") is None:
        return {"status": "not_available", "error": "slmscale.units.pretrain is not in this tree"}
    import json

    from slmscale.cli.main import main as cli

    work = Path(spec["work"])
    audio = work / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rate, lines, total = 16_000, [], 0.0
    for i in range(spec["utterances"]):
        dur = float(rng.uniform(*spec["seconds"]))
        _write_tone_wav(audio / f"u{i}.wav", dur, rate, rng)
        total += dur
        lines.append(json.dumps({"id": f"u{i}", "audio": f"audio/u{i}.wav", "duration": dur,
                                 "sample_rate": rate, "voice": f"v{i % 4}", "split": "train"}))
    (work / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    t = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        try:
            steps = ["--steps", str(spec["steps"])] if spec.get("steps") else []
            steps += ["--preset", spec["preset"]] if spec.get("preset") else []
            cli(["units", "pretrain", "--manifest", str(work / "manifest.jsonl"), "--out", str(work / "enc"),
                 "--iterations", "1", *steps])
        except SystemExit as ex:
            if ex.code:
                raise RuntimeError(f"slmscale units pretrain exited with {ex.code}") from None
    wall = time.perf_counter() - t
    rates: dict[str, list[float]] = {}
    for log in (work / "enc").rglob("metrics.jsonl"):
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            for key, val in rec.items():
                if key.endswith("_per_s") and isinstance(val, (int, float)):
                    rates.setdefault(key, []).append(float(val))
    return {"audio_s": round(total, 1), "wall_s": round(wall, 1), "x_real_time": round(total / wall, 1),
            "logged_rates_median": {k: float(np.median(v)) for k, v in rates.items()}, **peak_memory()}


WORKERS = {"env": env, "train": train, "hf": hf, "eval": evaluate, "pretrain": pretrain}
