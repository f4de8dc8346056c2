"""bench/gpu: the GPU readiness benchmark's CPU smoke run, its time guard, and its wheel list."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "bench" / "gpu"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"gpu_bench_{name}", GPU / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _load("run")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_smoke_run_measures_every_section(tmp_path):
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, str(GPU / "run.py"), str(out), "--smoke"], env=_env(),
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((out / "gpu_bench.json").read_text())
    assert {"bench", "mode", "started_utc", "budget_s", "wall_s", "flops_per_token_rule", "peak_flops",
            "sections"} <= set(report)
    assert report["mode"] == "smoke"
    secs = report["sections"]
    trains = [f"train/cpu-50k/{v}" for v in ("slmscale-eager", "hf-trainer", "slmscale-compile",
                                             "slmscale-ddp", "slmscale-fsdp")]
    assert set(secs) == {"env", "eval/cpu-50k", "pretrain", *trains}
    failed = {k: v.get("error") for k, v in secs.items() if k != "pretrain" and v["status"] != "ok"}
    assert not failed, failed

    env = secs["env"]
    assert env["packages"]["torch"] and env["packages"]["transformers"] and env["device"] == "cpu"
    assert report["peak_flops"]["measured"] == env["peak_flops_measured"] > 0
    assert report["peak_flops"]["datasheet"] is None  # no datasheet peak for a CPU
    for name in trains:
        rec = secs[name]
        assert isinstance(rec["mfu"], float) and 0 < rec["mfu"] <= 1, (name, rec["mfu"])
        assert rec["tokens_per_s"] > 0 and rec["peak_mem_gib"] > 0
        assert len(rec["step_s"]) == 3  # the measured steps, warm-up dropped
        assert rec["flops_per_token"] > rec["flops_per_token_6n"] > 0  # attention and head on top of 6N
        assert rec["tokens_per_step"] == 4 * 64
    assert secs["train/cpu-50k/slmscale-fsdp"]["distributed"] == "fsdp2"
    assert secs["train/cpu-50k/slmscale-compile"]["compile"] == "eager"
    assert "optim" in secs["train/cpu-50k/hf-trainer"]["hf_settings"]
    runs = secs["eval/cpu-50k"]["runs"]
    assert {r["dtype"] for r in runs} == {"float32", "bfloat16"}
    assert all(r["utterances_per_s"] > 0 for r in runs)
    have_pretrain = importlib.util.find_spec("slmscale.units.pretrain") is not None
    assert secs["pretrain"]["status"] == ("ok" if have_pretrain else "not_available")

    table = (out / "gpu_bench.md").read_text()
    assert "| section | status | tokens/s |" in table
    assert all(name in table for name in secs if name != "env")


def test_guard_records_timeouts_and_failures_and_keeps_results(bench, tmp_path):
    env = _env()
    res = tmp_path / "r.json"
    got = bench.run_guarded([sys.executable, "-c", "raise ValueError('boom')"], 30, env, res)
    assert got["status"] == "failed" and got["error"] == "ValueError: boom"

    code = f"import json, time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n" \
           f"open({str(res)!r}, 'w').write(json.dumps({{'x': 3}}))"
    got = bench.run_guarded([sys.executable, "-c", code], 60, env, res)
    assert got["status"] == "ok" and got["x"] == 3 and got["seconds"] >= got["cpu_s"] >= 0.3

    # A timeout ends the whole process group, grandchildren too (torchrun's workers).
    pid_file = tmp_path / "pid"
    t = time.perf_counter()
    got = bench.run_guarded(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], 1.5, env, tmp_path / "none")
    assert got["status"] == "timeout" and time.perf_counter() - t < 20
    pid = int(pid_file.read_text())
    time.sleep(0.2)
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()


def test_error_line_prefers_the_exception(bench):
    log = "loading...\nTraceback (most recent call last):\n  File x\ntorch.OutOfMemoryError: CUDA out of memory\nbye\n"
    assert bench.error_line(log) == "torch.OutOfMemoryError: CUDA out of memory"
    assert bench.error_line("just this\n") == "just this"
    assert bench.error_line("") == "no output"


def test_datasheet_peaks_by_gpu_name(bench):
    assert bench.datasheet_peak("NVIDIA H100 80GB HBM3") == 989.4e12
    assert bench.datasheet_peak("NVIDIA H200") == 989.4e12
    assert bench.datasheet_peak("NVIDIA H100 PCIe") == 756e12
    assert bench.datasheet_peak("NVIDIA A100-SXM4-80GB") == 312e12
    assert bench.datasheet_peak("NVIDIA GeForce RTX 4090") is None
    assert bench.datasheet_peak(None) is None


def test_gpu_plan_uses_the_paper_configs_and_puts_the_key_figures_first(bench, tmp_path):
    sections = bench.plan(False, tmp_path, tmp_path / "shards")
    names = [s.name for s in sections]
    assert names[:5] == ["env", "train/85m/slmscale-eager", "train/85m/hf-trainer", "train/823m/slmscale-eager",
                         "train/823m/hf-trainer"]
    assert {"train/85m/slmscale-compile", "train/823m/slmscale-fsdp", "eval/85m", "pretrain"} <= set(names)
    by = {s.name: s for s in sections}
    assert by["train/85m/slmscale-eager"].spec["seq_len"] == 2048  # configs/train/paper-85m.yaml
    assert by["train/823m/slmscale-eager"].spec["micro"] == 4
    assert by["train/823m/slmscale-ddp"].torchrun and not by["train/823m/slmscale-compile"].torchrun
    longer = bench.plan(False, tmp_path, tmp_path / "shards", seq_len=2050)
    assert {s.spec["seq_len"] for s in longer if s.name.startswith("train/")} == {2050}


def test_mfu_from_the_median_step_and_both_peaks(bench, tmp_path):
    from slmscale.model.build import llama_config
    from slmscale.model.flops import model_flops_per_token
    from slmscale.model.presets import resolve_preset

    section = next(s for s in bench.plan(False, tmp_path, tmp_path) if s.name == "train/85m/slmscale-eager")
    rec = {**section.meta, "status": "ok", "step_s": [3.0, 1.0, 2.0]}
    bench.derive(rec, section, {"measured": 5e14, "datasheet": 1e15})
    fpt = model_flops_per_token(llama_config(resolve_preset("85m"), 502, {"bos": 500, "eos": 501}, 2048), 2048)
    assert rec["flops_per_token"] == fpt
    assert rec["tokens_per_s"] == pytest.approx(section.meta["tokens_per_step"] / 2.0, abs=0.1)
    assert rec["mfu"] == pytest.approx(rec["tokens_per_s"] * fpt / 5e14, abs=1e-4)
    assert rec["mfu_datasheet"] == pytest.approx(rec["mfu"] / 2, abs=1e-4)


def test_wheel_list_is_what_a_bare_torch_transformers_machine_lacks():
    wheels = _load("wheels")
    names = {r.split("==")[0] for r in wheels.pinned()}
    assert {"pydantic", "pydantic-core", "typer", "rich", "accelerate", "psutil"} <= names
    # slmscale.audio (units pretrain) imports soundfile, which needs cffi; the resampler is soxr.
    assert {"soundfile", "cffi", "soxr"} <= names
    assert not names & {"torch", "transformers", "numpy", "tokenizers", "safetensors", "huggingface-hub"}


def test_ratios_pair_the_measured_variants_per_size(bench):
    secs = {"train/85m/slmscale-eager": {"tokens_per_s": 300.0}, "train/85m/hf-trainer": {"tokens_per_s": 200.0},
            "train/85m/slmscale-compile": {"tokens_per_s": 450.0}, "train/85m/slmscale-ddp": {"status": "failed"},
            "train/85m/slmscale-fsdp": {"tokens_per_s": 250.0}}
    assert bench.ratios(secs) == {"85m": {"slmscale_vs_hf_trainer": 1.5, "compile_vs_eager": 1.5}}


def test_driver_version_comes_from_nvidia_smi(tmp_path, monkeypatch):
    sections = _load("sections")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sections._driver() is None  # no nvidia-smi: a CPU machine
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 580.159.04\n")
    fake.chmod(0o755)
    assert sections._driver() == "580.159.04"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert sections._driver() is None
