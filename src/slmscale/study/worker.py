"""The one train -> eval loop of a study run.

`python -m slmscale.study.worker RUNROOT` trains (TRAIN's Python API, auto-resuming from a
checkpoint) and then scores every task still missing from summary.json (EVAL's Python API),
importing torch once. The study runner starts it as a subprocess, so a crash here costs only this
run; with `execution.gpus_per_run` > 1 it runs under torchrun (every rank trains, rank 0 scores).
An interleaved run first builds its starting model (slmscale.study.warm_start).

`evaluate_tasks` is the per-task loop itself, shared with runs whose trainer/evaluator are custom
commands (slmscale.study.runners). Exit codes: see slmscale.study.runstate.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

from slmscale.artifacts import read_json, write_json
from slmscale.errors import UserError, run_explained
from slmscale.eval.protocols import DEFAULT_TRUNCATION
from slmscale.eval.tasks import get_task
from slmscale.study.runstate import DIVERGED_EXIT, RunPaths, read_summary, task_done

Scorer = Callable[[str, str], None]  # (task, benchmark folder) -> merges the score into summary.json


def evaluate_tasks(paths: RunPaths, run: dict[str, Any], score: Scorer) -> dict[str, str]:
    """Score each of the run's tasks not yet in summary.json (or scored another way than the
    study's `scoring:` asks); returns {task: error} for the rest. One task's failure never stops
    the others."""
    errors: dict[str, str] = {}
    scoring = run.get("scoring") or {}
    for task in run.get("tasks", []):
        if task_done(read_summary(paths), task, scoring, paths.run):
            continue
        bench = (run.get("bench") or {}).get(task)
        if bench is None:
            errors[task] = "no benchmark folder for this task (data.bench)"
            continue
        try:
            score(task, bench)
        except UserError as err:
            errors[task] = str(err)
        except Exception as err:  # a crash in one task must not lose the others
            errors[task] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
        else:
            if read_summary(paths).get(get_task(task).column) is None:
                errors[task] = "the evaluator wrote no score"
        if task in errors:
            print(f"error: eval {task}: {errors[task]}", file=sys.stderr)
    return errors


def _api_scorer(paths: RunPaths, scoring: dict[str, Any]) -> Scorer:
    model: list[Any] = []

    def score(task: str, bench: str) -> None:
        from slmscale.eval import evaluate_run
        from slmscale.eval.run import load_model

        if not model:  # loaded once for all tasks
            model.append(load_model(paths.run / "final", "auto"))
        # The study owns its runs: the spec's bench replaces whatever result a run holds.
        evaluate_run(paths.run, task, bench, model=model[0], protocol=scoring.get("protocol"),
                     truncation=scoring.get("truncation", DEFAULT_TRUNCATION), replace=True)

    return score


def work(root: Path) -> int:
    from slmscale.train import run_training
    from slmscale.train.config import load_train_config

    paths = RunPaths(root)
    run = read_json(paths.spec)
    if read_summary(paths).get("status") != "finished":
        if run.get("init"):
            from slmscale.study.warm_start import build_init_model

            build_init_model(run["init"], Path(run["shards"]))
        summary = run_training(load_train_config(paths.config))
        if summary.get("status") == "diverged":
            print(f"error: diverged: {summary.get('message', summary.get('error', ''))}", file=sys.stderr)
            return DIVERGED_EXIT
        if summary.get("status") != "finished":
            print(f"error: training ended with status {summary.get('status')}", file=sys.stderr)
            return 1
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun: rank 0 scores
    write_json(paths.eval_errors, evaluate_tasks(paths, run, _api_scorer(paths, run.get("scoring") or {})))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m slmscale.study.worker RUNROOT", file=sys.stderr)
        return 2
    return run_explained(lambda: work(Path(argv[0])))  # the CLI's one-line errors here too


if __name__ == "__main__":
    sys.exit(main())
