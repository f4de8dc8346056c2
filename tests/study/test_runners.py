"""Runner semantics with the fake trainer: resume after kill -9, failures recorded, no redo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from slmscale.study.pipeline import run_study
from slmscale.study.runners import execute_run
from slmscale.study.runstate import RunPaths, prepare_run, run_state
from slmscale.study.expand import expand
from slmscale.study.spec import load_spec
from study_helpers import fake_commands, make_spec, write_spec


def _events(study: Path) -> dict[str, list[dict]]:
    out = {}
    for d in sorted((study / "runs").iterdir()):
        f = d / "run" / "attempts.jsonl"
        out[d.name] = [json.loads(x) for x in f.read_text().splitlines()] if f.is_file() else []
    return out


def _finished(study: Path) -> set[str]:
    done = set()
    for d in (study / "runs").glob("*"):
        s = d / "run" / "summary.json"
        if s.is_file() and json.loads(s.read_text()).get("status") == "finished":
            done.add(d.name)
    return done


@pytest.mark.slow
def test_kill_9_of_the_study_runner_then_rerun_runs_everything_exactly_once(tmp_path, shards):
    grid = {"sizes": [{"preset": f"fake-{n}", "params": n} for n in (20_000, 80_000, 300_000)],
            "tokens_per_param": [4, 16]}
    spec = write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid, train={"fake": {"step_s": 0.25}}))
    study = tmp_path / "out"
    cmd = [sys.executable, "-m", "slmscale.cli.main", "study", "run", str(spec), "--out", str(study),
           "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # generous: a loaded machine is slow, and the loop ends early
    while len(_finished(study) if (study / "runs").is_dir() else ()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # the trainers got SIGKILL with their parent; give them time to be gone
    done_before = _finished(study)
    events_before = _events(study)
    assert 2 <= len(done_before) < 6
    # Nothing more finishes once the runner is dead (no orphan trainers keep going).
    time.sleep(0.6)
    assert _finished(study) == done_before

    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    df = pd.read_csv(study / "results.csv")
    assert len(df) == 6 and df["run_id"].is_unique and set(df["status"]) == {"finished"}
    events = _events(study)
    for rid, ev in events.items():
        assert [e["event"] for e in ev].count("finish") == 1, rid
        if rid in done_before:
            assert ev == events_before[rid], f"{rid} was redone"
    # At least one interrupted run resumed from its checkpoint rather than starting over.
    resumed = [rid for rid, ev in events.items() if any(e["event"] == "start" and e["from_step"] > 0 for e in ev)]
    interrupted = [rid for rid in events if rid not in done_before and events_before.get(rid)]
    assert set(resumed) <= set(interrupted)
    assert all(df["sblimp"].between(0.5, 1.0))


def test_failed_and_diverged_runs_are_recorded_and_excluded_from_fits(tmp_path, shards):
    fake = {"fail_tokens": 2_560_000, "diverge_tokens": 9_600_000}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, train={"fake": fake})))
    res = run_study(spec, tmp_path / "out", report=True)
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 9
    status = dict(zip(df["tokens"], df["status"]))
    assert status[2_560_000] == "failed" and status[9_600_000] == "diverged"
    assert (df["status"] == "finished").sum() == 7
    failed = df[df["status"] == "failed"].iloc[0]
    assert "fake failure requested" in failed["error"]
    fits = json.loads((tmp_path / "out" / "fits.json").read_text())
    assert fits["n_finished"] == 7 and fits["arms"]["speech"]["loss_fit"]["n_points"] == 7
    assert {e["status"] for e in fits["excluded"]} == {"failed", "diverged"}
    html = Path(res["report"]).read_text()
    assert "Runs excluded from the fits" in html and "fake failure requested" in html

    # A second invocation does not retry them (deterministic failures) ...
    spec.fits.loss = False  # the fit was checked above; keep the rest of the test fast
    res2 = run_study(spec, tmp_path / "out", report=False)
    assert res2["ran"] == 0
    # ... unless asked to.
    spec.execution.retry_failed = True
    res3 = run_study(spec, tmp_path / "out", report=False)
    assert res3["ran"] == 1 and list(res3["states"].values()) == ["failed"]
    assert "exit 1" in pd.read_csv(tmp_path / "out" / "results.csv").set_index("tokens").loc[2_560_000, "error"]


def test_execute_run_records_eval_errors_and_retries_only_evals(tmp_path, shards):
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards)))
    run = expand(spec)[0]
    root = tmp_path / "runs" / run.run_id
    cmds = fake_commands()
    prepare_run(root, run, shards, {"sblimp": tmp_path / "missing-bench"})
    assert run_state(RunPaths(root)) == "pending"
    assert execute_run(root, **cmds) == "finished (eval errors)"
    status = json.loads((root / "status.json").read_text())
    assert status["missing_evals"] == ["sblimp"] and "benchmark folder not found" in status["eval_errors"]["sblimp"]
    prepare_run(root, run, shards, {"sblimp": tmp_path / "bench"})
    assert execute_run(root, **cmds) == "finished"
    events = [json.loads(x)["event"] for x in (root / "run" / "attempts.jsonl").read_text().splitlines()]
    assert events == ["start", "finish"]  # training was not redone for the missing evaluation
    assert "sblimp" in json.loads((root / "run" / "summary.json").read_text())


def test_a_locked_run_is_left_to_its_owner(tmp_path, shards):
    import fcntl

    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards)))
    run = expand(spec)[0]
    root = tmp_path / "runs" / run.run_id
    prepare_run(root, run, shards, {})
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert execute_run(root, **fake_commands()) == "busy"
    assert run_state(RunPaths(root)) == "pending"


@pytest.mark.slow
def test_submitit_local_executor_runs_the_study(tmp_path, shards):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2, 8]}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid,
                                                    execution={"slurm": {"cluster": "local"}})))
    res = run_study(spec, tmp_path / "out", executor="submitit", report=False)
    assert sorted(res["states"].values()) == ["finished", "finished"]
    assert (tmp_path / "out" / "submitit").is_dir()


def test_runs_from_an_earlier_spec_stay_in_the_table_but_not_in_the_fits(tmp_path, shards):
    grid = {"sizes": [{"preset": f"fake-{n}", "params": n} for n in (20_000, 80_000, 300_000)],
            "tokens_per_param": [2, 8]}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid)))
    spec.fits.loss = False
    run_study(spec, tmp_path / "out", report=False)
    spec.train = {"train": {"lr": 0.01}}  # a new config: new run ids
    res = run_study(spec, tmp_path / "out", report=False)
    assert res["ran"] == 6
    assert len(pd.read_csv(tmp_path / "out" / "results.csv")) == 12
    assert len(res["fits"]["stale"]) == 6 and res["fits"]["n_finished"] == 6


def test_a_multi_gpu_run_is_one_torchrun_job():
    from slmscale.study.runners import worker_command

    assert worker_command(Path("/r")) == [sys.executable, "-m", "slmscale.study.worker", "/r"]
    cmd = worker_command(Path("/r"), gpus=4)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in cmd and "--nproc-per-node=4" in cmd and cmd[-3:] == ["-m", "slmscale.study.worker", "/r"]


def test_submitit_jobs_ask_for_the_runs_gpus(tmp_path):
    from slmscale.study.executors import make_executor

    ex = make_executor("submitit", tmp_path, jobs=2, slurm={"cluster": "local", "timeout_min": 5}, gpus_per_run=2)
    assert ex.executor._executor.parameters.get("gpus_per_node", ex.executor._executor.parameters.get("gpus")) == 2


@pytest.mark.slow
def test_gpus_per_run_trains_with_torchrun_inside_the_local_job(tmp_path, shards):
    """On CPU, `gpus_per_run: 2` means two gloo processes: the run trains with world size 2 under
    torchrun, started by the study's own worker, and is recorded like any other run."""
    spec = make_spec(tmp_path, shards, grid={"sizes": ["auto-10k"], "tokens_per_param": [0.05]},
                     train={"train": {"seq_len": 16, "batch_tokens": 64, "lr": 0.003}, "eval": {"max_tokens": 256}})
    spec["arms"][0]["tasks"] = []
    spec["execution"] = {"jobs": 1, "threads_per_run": 1, "gpus_per_run": 2}
    res = run_study(load_spec(write_spec(tmp_path, spec)), tmp_path / "out", report=False)
    assert list(res["states"].values()) == ["finished"], res["states"]
    [root] = (tmp_path / "out" / "runs").iterdir()
    summary = json.loads((root / "run" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "finished"
    assert "torch.distributed.run" in (root / "train.log").read_text()
