"""One run in one process: `python -m slmscale.study.worker RUNROOT` trains (TRAIN's Python API,
auto-resuming from a checkpoint) and then scores every task still missing from summary.json (EVAL's
Python API), importing torch once instead of once per command. The study runner starts this as a
subprocess, so a crash here costs only this run. An interleaved run first builds its starting
model (the text run's model with the speech vocabulary, slmscale.study.warm_start).

Exit codes: 0 trained (evaluation errors, if any, are in RUNROOT/eval_errors.json), 2 bad
config/input, 3 diverged, 1 unexpected failure.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from slmscale.artifacts import read_json, write_json
from slmscale.errors import UserError


def work(root: Path) -> int:
    from slmscale.train import run_training
    from slmscale.train.config import load_train_config

    run = read_json(root / "run.json")
    summary_path = root / "run" / "summary.json"
    summary = read_json(summary_path) if summary_path.is_file() else {}
    if summary.get("status") != "finished":
        if run.get("init"):
            from slmscale.study.warm_start import build_init_model

            build_init_model(run["init"], Path(run["shards"]))
        summary = run_training(load_train_config(root / "train.yaml"))
        if summary.get("status") == "diverged":
            print(f"error: diverged: {summary.get('message', summary.get('error', ''))}", file=sys.stderr)
            return 3
        if summary.get("status") != "finished":
            print(f"error: training ended with status {summary.get('status')}", file=sys.stderr)
            return 1
    errors: dict[str, str] = {}
    model = None
    from slmscale.study.spec import task_done

    for task in run.get("tasks", []):
        if task_done(read_json(summary_path), task):
            continue
        bench = (run.get("bench") or {}).get(task)
        if bench is None:
            errors[task] = "no benchmark folder for this task (data.bench)"
            continue
        try:
            from slmscale.eval import evaluate_run
            from slmscale.eval.run import load_model

            model = model or load_model(root / "run" / "final", "auto")
            evaluate_run(root / "run", task, bench, model=model)
        except UserError as err:
            errors[task] = str(err)
            print(f"error: eval {task}: {err}", file=sys.stderr)
        except Exception as err:  # one task's crash must not lose the others
            errors[task] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
    write_json(root / "eval_errors.json", errors)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m slmscale.study.worker RUNROOT", file=sys.stderr)
        return 2
    try:
        return work(Path(argv[0]))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
