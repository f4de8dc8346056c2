"""Fault-injection bench: try every failure a hostile user (or a bad day) can cause, and count how
each ended.

    PYTHONPATH=src python bench/faults.py [--quick] [--only CATEGORY] [--keep DIR]

Categories: audio (bad audio kinds and folder edge cases), config (bad train configs), cli (bad
stage arguments), study (bad and crafted study specs, via `slmscale study run`), shards (corrupt
token shards, per consumer), checkpoint (damaged checkpoints and final models), disk (read-only
and full output folders: a small tmpfs where `mount` is permitted, else a failing fsync), kill
(kill -9 at random points of `train` and `study run`, then rerun), concurrent (two writers on one
folder).

Each case ends as one of
  clear           the expected outcome: one `error: ...` line with the right exit code (or, for
                  batch stages, the bad item skipped and listed with its reason), no partial file
                  left, nothing written outside the output folder, resumed work identical
  traceback       a traceback, or an error that is not one clear line with the right exit code
  silently_wrong  exit 0 where an error was due, a bad item used as good, a partial file left,
                  or a write outside the output folder
  lost            finished work or data destroyed, or a resumed run that differs
Prints JSON: the counts, and every case that was not clear with what happened. Most cases run the
real CLI entry point in this process (the same `main` the console script and `python -m` use);
kills and concurrent writers use separate processes. Takes minutes on a quiet machine (--quick:
about a fifth of the cases, one per kind of fault).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from fault_cases import audio_cases, config_cases, other_cli_cases, shard_cases, study_cases
from fault_kit import (ENV, Bench, Inputs, cli, expect_error, judge_error, partials, same_weights, snapshot,
                       spawn, study_spec, tiny_train_cfg)


# ---------------------------------------------------------------- checkpoints and final models


def _unfinish(run: Path) -> None:
    (run / "meta.json").unlink()
    shutil.rmtree(run / "final")
    s = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**s, "status": "running"}))


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


CKPT_DAMAGE = [
    ("model.safetensors truncated", lambda c: _truncate(c / "model.safetensors")),
    ("optimizer.safetensors truncated", lambda c: _truncate(c / "optimizer.safetensors")),
    ("rng.safetensors garbage", lambda c: (c / "rng.safetensors").write_bytes(b"\x08" * 40)),
    ("state.json garbage", lambda c: (c / "state.json").write_text("{")),
    ("state.json without its step", lambda c: (c / "state.json").write_text("{}")),
]


def checkpoint_cases(b: Bench, inp: Inputs) -> None:
    for i, (name, damage) in enumerate(CKPT_DAMAGE[:2] if b.quick else CKPT_DAMAGE):
        run = Path(shutil.copytree(inp.run, b.ws / "cases" / f"ck{i}"))
        _unfinish(run)
        newest = sorted((run / "checkpoints").glob("step-*"))[-1]
        damage(newest)
        code, _, err = cli("train", b.ws / "inputs" / "run.yaml", "--out", run)
        if "Traceback" in err or code != 0:
            b.add("checkpoint", f"resume past {name}", judge_error(code, err)[0], err[-300:])
        elif "skipping damaged checkpoint" not in err:
            b.add("checkpoint", f"resume past {name}", "silently_wrong", "no word about the damaged checkpoint")
        else:
            b.add("checkpoint", f"resume past {name}", "clear" if same_weights(run, inp.run) else "lost",
                  "" if same_weights(run, inp.run) else "resumed weights differ from the uninterrupted run")
    run = Path(shutil.copytree(inp.run, b.ws / "cases" / "ck_all"))
    _unfinish(run)
    for c in (run / "checkpoints").glob("step-*"):
        (c / "state.json").write_text("{")
    expect_error(b, "checkpoint", "every checkpoint damaged", ["train", b.ws / "inputs" / "run.yaml", "--out", run],
                 "every checkpoint is damaged", out=run, fresh_out=False)
    finals = [
        ("final model truncated", lambda f: _truncate(f / "model.safetensors")),
        ("final pytorch_model.bin (pickle)", lambda f: _pickle(f, "pytorch_model.bin", remove=True)),
        ("final pickle named .safetensors", lambda f: _pickle(f, "model.safetensors")),
        ("final config.json garbage", lambda f: (f / "config.json").write_text("{")),
        ("final without weights", lambda f: (f / "model.safetensors").unlink()),
    ]
    for i, (name, damage) in enumerate(finals[:2] if b.quick else finals):
        final = Path(shutil.copytree(inp.run / "final", b.ws / "cases" / f"final{i}"))
        damage(final)
        out = b.ws / "cases" / f"init_run{i}"
        cfg = tiny_train_cfg(b.ws / "cases" / f"init{i}.yaml", inp.shards, out,
                             **{"model.init_from": str(final), "model.n_layers": None, "model.d_model": None,
                                "model.n_heads": None, "model.ffn": None})
        expect_error(b, "checkpoint", f"init_from: {name}", ["train", cfg], out=out)


def _pickle(final: Path, name: str, remove: bool = False) -> None:
    import torch
    from safetensors.torch import load_file

    sd = {k: v.clone() for k, v in load_file(final / "model.safetensors").items()}
    if remove:
        (final / "model.safetensors").unlink()
    torch.save(sd, final / "pickle.tmp")  # not over the file just read: it may still be mapped
    os.replace(final / "pickle.tmp", final / name)


# ---------------------------------------------------------------- read-only and full disks


@contextlib.contextmanager
def small_disk(where: Path, mode: str):
    """A 2 MiB tmpfs at `where`: mode "ro" (read-only) or "full" (filled to the last byte).
    Yields "tmpfs", or "simulated" (fsync fails with EROFS/ENOSPC) when mounting is not permitted."""
    import errno

    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    try:
        if mounted:
            if mode == "full":
                with open(where / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
                    while True:
                        fh.write(b"\0" * 4096)
            else:
                subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
            yield "tmpfs"
        else:
            code = errno.ENOSPC if mode == "full" else errno.EROFS
            real = os.fsync

            def fsync(fd: int) -> None:
                raise OSError(code, os.strerror(code))

            os.fsync = fsync
            try:
                yield "simulated"
            finally:
                os.fsync = real
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def disk_cases(b: Bench, inp: Inputs) -> None:
    import yaml

    spec = b.ws / "cases" / "disk_spec.yaml"
    spec.write_text(yaml.safe_dump(study_spec(inp.shards)))
    stages = [
        ("synth corpus", lambda d: ["synth", "corpus", "--out", d / "c", "--stories", "2", "--workers", "1"]),
        ("data manifest", lambda d: ["data", "manifest", "folder", "--root", inp.good_audio, "--out", d / "m.jsonl",
                                     "--workers", "1"]),
        ("units fit", lambda d: ["units", "fit", "--manifest", inp.corpus, "--encoder", "mfcc", "--k", "8",
                                 "--out", d / "tok", "--workers", "1"]),
        ("units encode", lambda d: ["units", "encode", "--tokenizer", inp.tok, "--manifest", inp.corpus,
                                    "--out", d / "sh", "--workers", "1"]),
        ("units unigram", lambda d: ["units", "unigram", "--shards", inp.shards, "--vocab-size", "30",
                                     "--out", d / "uni"]),
        ("train", lambda d: ["train", b.ws / "inputs" / "run.yaml", "--out", d / "run"]),
        ("study run", lambda d: ["study", "run", spec, "--out", d / "study", "--no-report"]),
    ]
    for mode, phrase in (("ro", "read-only"), ("full", "no space left")):
        for i, (name, argv) in enumerate(stages[::3] if b.quick else stages):
            where = b.ws / "cases" / f"disk_{mode}_{i}"
            with small_disk(where, mode) as kind:
                before = snapshot(b.ws, where)
                code, _, err = cli(*argv(where))
                outcome, detail = judge_error(code, err, 2, phrase)
                left = [p for p in partials(where)]
                done = [p for p in where.rglob("meta.json")] if where.exists() else []
                if outcome == "clear" and left:
                    outcome, detail = "silently_wrong", f"partial files left: {left[:3]}"
                elif outcome == "clear" and done:
                    outcome, detail = "silently_wrong", f"marked finished: {done[:2]}"
                elif outcome == "clear" and snapshot(b.ws, where) != before:
                    outcome, detail = "silently_wrong", "wrote outside its output"
            b.add("disk", f"{name} on a {'read-only' if mode == 'ro' else 'full'} disk ({kind})", outcome, detail)


# ---------------------------------------------------------------- kill -9


def _wait_for(cond: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def _last_step(run: Path) -> int:
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    return max((json.loads(ln)["step"] for ln in lines if ln.endswith("}")), default=0)


def kill_cases(b: Bench, inp: Inputs, rng: random.Random) -> None:
    steps = 40
    ref = b.ws / "cases" / "kill_ref"
    cfg = tiny_train_cfg(b.ws / "cases" / "kill.yaml", inp.shards, ref, steps=steps,
                         **{"checkpoint.interval_steps": 3})
    cli("train", cfg)
    for i in range(1 if b.quick else 3):
        run = b.ws / "cases" / f"kill_run{i}"
        at = rng.randint(2, steps - 5)
        proc = spawn("train", cfg, "--out", run)
        hit = _wait_for(lambda: _last_step(run) >= at, proc, 600)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        code, _, err = cli("train", cfg, "--out", run)
        if code != 0:
            b.add("kill", f"train killed at step {at}", judge_error(code, err)[0], err[-300:])
        else:
            ok = same_weights(run, ref)
            b.add("kill", f"train killed at step {at}{'' if hit else ' (finished first)'}", "clear" if ok else "lost",
                  "" if ok else "resumed weights differ from the uninterrupted run")
    import yaml

    for i in range(1 if b.quick else 2):
        spec = b.ws / "cases" / f"kill_spec{i}.yaml"
        sizes = [{"preset": f"fake-{n}", "params": n} for n in (20000, 40000)]
        spec.write_text(yaml.safe_dump(study_spec(inp.shards, **{"grid.sizes": sizes, "grid.tokens_per_param": [2, 4],
                                                                  "train": {"fake": {"step_s": 0.02}}})))
        out = b.ws / "cases" / f"kill_study{i}"
        proc = spawn("study", "run", spec, "--out", out, "--no-report")
        time.sleep(rng.uniform(3, 12))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        code, _, err = cli("study", "run", spec, "--out", out, "--no-report")
        if code != 0:
            b.add("kill", f"study killed ({i})", judge_error(code, err)[0], err[-300:])
            continue
        import csv

        rows = list(csv.DictReader(open(out / "results.csv")))
        ids = [r.get("run_id") for r in rows]
        ok = len(ids) == 4 and len(set(ids)) == 4
        b.add("kill", f"study killed ({i})", "clear" if ok else "lost", "" if ok else f"results rows: {ids}")


# ---------------------------------------------------------------- concurrent writers


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding `folder`'s lock, as a running writer would."""
    code = ("import sys, time; from slmscale.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'x'):\n    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def concurrent_cases(b: Bench, inp: Inputs) -> None:
    steps = 40
    cfg = b.ws / "cases" / "kill.yaml"  # made by kill_cases: reference in kill_ref
    if not cfg.exists():
        tiny_train_cfg(cfg, inp.shards, b.ws / "cases" / "kill_ref", steps=steps, **{"checkpoint.interval_steps": 3})
        cli("train", cfg)
    run = b.ws / "cases" / "conc_train"
    first = spawn("train", cfg, "--out", run)
    _wait_for(lambda: (run / "summary.json").exists(), first, 600)
    code, _, err = cli("train", cfg, "--out", run)
    outcome, detail = judge_error(code, err, 2, "already writing here")
    first.wait()
    if first.returncode != 0 or not same_weights(run, b.ws / "cases" / "kill_ref"):
        outcome, detail = "lost", f"the first train was disturbed (exit {first.returncode})"
    b.add("concurrent", "two trains on one --out", outcome, detail)
    held = [("units unigram", lambda d: ["units", "unigram", "--shards", inp.shards, "--vocab-size", "30",
                                         "--out", d]),
            ("units encode", lambda d: ["units", "encode", "--tokenizer", inp.tok, "--manifest", inp.corpus,
                                        "--out", d, "--workers", "1"]),
            ("synth corpus", lambda d: ["synth", "corpus", "--out", d, "--stories", "1", "--workers", "1"])]
    for name, argv in held[:1] if b.quick else held:
        d = b.ws / "cases" / f"conc_{name.split()[-1]}"
        holder = _hold(d)
        try:
            code, _, err = cli(*argv(d))
            outcome, detail = judge_error(code, err, 2, "already writing here")
            if outcome == "clear" and (d / "meta.json").exists():
                outcome, detail = "silently_wrong", "wrote meta.json beside another writer"
        finally:
            holder.kill()
            holder.wait()
        b.add("concurrent", f"{name} while another writer holds the folder", outcome, detail)
    if b.quick:
        return
    m = b.ws / "cases" / "conc_m.jsonl"
    procs = [spawn("data", "manifest", "folder", "--root", inp.good_audio, "--out", m, "--workers", "1", "--force")
             for _ in range(2)]
    outs = [p.communicate() for p in procs]
    ok = all(p.returncode == 0 for p in procs) and len(m.read_text().splitlines()) == 3
    b.add("concurrent", "two manifest builds on one file", "clear" if ok else "silently_wrong",
          "" if ok else str([o[1][-200:] for o in outs]))
    import csv

    import yaml

    spec = b.ws / "cases" / "conc_spec.yaml"
    sizes = [{"preset": f"fake-{n}", "params": n} for n in (20000, 40000)]
    spec.write_text(yaml.safe_dump(study_spec(inp.shards, **{"grid.sizes": sizes, "grid.tokens_per_param": [2, 4],
                                                              "train": {"fake": {"step_s": 0.01}}})))
    out = b.ws / "cases" / "conc_study"
    procs = [spawn("study", "run", spec, "--out", out, "--no-report") for _ in range(2)]
    outs = [p.communicate() for p in procs]
    tb = any("Traceback" in o[1] for o in outs)
    cli("study", "run", spec, "--out", out, "--no-report")  # finish whatever a busy lock left
    rows = list(csv.DictReader(open(out / "results.csv"))) if (out / "results.csv").exists() else []
    ids = [r.get("run_id") for r in rows]
    attempts = [len([ln for ln in (p / "attempts.jsonl").read_text().splitlines() if '"finish' in ln])
                for p in (out / "runs").glob("*/run") if (p / "attempts.jsonl").exists()]
    ok = len(ids) == 4 and len(set(ids)) == 4 and all(a == 1 for a in attempts)
    b.add("concurrent", "two study runs on one folder", "traceback" if tb else ("clear" if ok else "silently_wrong"),
          "" if ok else f"rows {ids}, finishes per run {attempts}")


# ---------------------------------------------------------------- main


CATEGORIES = ["audio", "config", "cli", "study", "shards", "checkpoint", "disk", "kill", "concurrent"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about a fifth of the cases, one per kind of fault")
    ap.add_argument("--only", action="append", choices=CATEGORIES, help="run only these categories")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the random kill points")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ws = args.keep or Path(tempfile.mkdtemp(prefix="slmscale-faults-"))
    (ws / "cases").mkdir(parents=True, exist_ok=True)
    b = Bench(ws, args.quick)
    t0 = time.time()
    inp = Inputs(ws)
    rng = random.Random(args.seed)
    runners = {"audio": audio_cases, "config": config_cases, "cli": other_cli_cases, "study": study_cases,
               "shards": shard_cases, "checkpoint": checkpoint_cases, "disk": disk_cases,
               "kill": lambda b, i: kill_cases(b, i, rng), "concurrent": concurrent_cases}
    for cat in args.only or CATEGORIES:
        try:
            runners[cat](b, inp)
        except Exception as err:  # the bench itself must finish and report
            b.add(cat, "bench error", "traceback", f"{type(err).__name__}: {err}")
    counts = {k: sum(r.outcome == k for r in b.results) for k in ("clear", "traceback", "silently_wrong", "lost")}
    by_cat = {c: {k: sum(r.outcome == k and r.category == c for r in b.results) for k in counts}
              for c in dict.fromkeys(r.category for r in b.results)}
    print(json.dumps({"cases": len(b.results), "counts": counts, "by_category": by_cat, "quick": args.quick,
                      "wall_s": round(time.time() - t0, 1),
                      "not_clear": [r.__dict__ for r in b.results if r.outcome != "clear"]}, indent=2))
    if args.keep is None:
        shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()
