"""A whole study: check every planned run, build the data stages, execute the runs, collect, fit,
report. Each step is a library call: data stages (slmscale.study.data_stages), planning
(slmscale.study.expand), run folders (slmscale.study.runstate), executors, the results store, and
the analysis and report.

Before any work, `check_plan` builds the complete TRAIN config of every planned run (from the spec
alone: placeholder shards, planned vocabularies) and validates it, with the model preset, so a typo
in `train:` or an unknown preset is one line naming the run and key, and nothing is written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from slmscale.artifacts import write_json
from slmscale.errors import UserError
from slmscale.study.expand import RunSpec, critical_path, default_param_counter, dependencies, expand
from slmscale.study.spec import StudySpec

# `study run` warns about a run that sees its unique tokens more often than this.
MANY_EPOCHS = 4.0


def check_plan(spec: StudySpec, count_params: Callable[[str], int] | None = None) -> list[RunSpec]:
    """Expand the spec and validate every run's TRAIN config; raises one UserError naming the run."""
    from pydantic import ValidationError

    from slmscale.model.presets import resolve_preset
    from slmscale.study.runstate import train_config
    from slmscale.train.config import TrainConfig

    # Budgets matched in full FLOPs need the built vocabularies; the configs do not depend on them.
    runs = expand(spec, count_params=count_params or default_param_counter, match_flops=False)
    if spec.execution.trainer is not None:  # a custom trainer command owns its config and presets
        return runs
    for r in runs:
        cfg = train_config(r, Path("<shards>"), Path("<run>"), Path("<init>") if r.init_run else None)
        try:
            TrainConfig.model_validate(cfg)
        except ValidationError as err:
            e = err.errors()[0]
            loc = ".".join(str(p) for p in e["loc"])
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            raise UserError(f"run {r.run_id} (arm {r.arm}): train.{loc}: {msg}; fix the spec's train: "
                            "section or --set") from None
        try:
            resolve_preset(r.preset)
        except UserError as err:
            raise UserError(f"run {r.run_id} (arm {r.arm}): grid size: {err}") from None
    return runs


def repeat_warnings(runs: list[RunSpec]) -> list[str]:
    """One line per run that repeats its data more than MANY_EPOCHS times."""
    return [f"warning: run {r.run_id} repeats its data {r.epochs:.1f} times ({r.tokens:,} tokens over "
            f"{r.unique_tokens:,} unique); its loss is not a fresh-data point"
            for r in runs if r.epochs is not None and r.epochs > MANY_EPOCHS]


def run_line(run_id: str, state: str, study_dir: Path) -> str:
    """The plain per-run line `study run` prints (survives a batch log): id, status, loss, time."""
    from slmscale.study.runstate import RunPaths, read_status, read_summary, run_root

    paths = RunPaths(run_root(study_dir, run_id))
    loss = read_summary(paths).get("loss")
    wall = read_status(paths).get("wall_s")
    return (f"[study] run {run_id} {state} loss={'-' if loss is None else f'{loss:.4f}'} "
            f"time={'-' if wall is None else f'{wall:.1f}s'}")


def run_study(spec: StudySpec, study_dir: str | Path, executor: str | None = None,
              jobs: int | None = None, count_params: Callable[[str], int] | None = None,
              report: bool = True) -> dict[str, Any]:
    """Build data, execute every run not yet done, rebuild the results, fit, and write the report."""
    import yaml

    from slmscale.artifacts import atomic_write_text
    from slmscale.progress import make_progress
    from slmscale.study import analysis, store
    from slmscale.study.data_stages import note, prepare_data, shards_fingerprints, shards_sizes
    from slmscale.study.executors import make_executor
    from slmscale.study.runners import RunJob
    from slmscale.study.runstate import RunPaths, needs_work, prepare_run, run_root
    from slmscale.study.warm_start import init_model_dir

    check_plan(spec, count_params)  # before anything is written
    study_dir = Path(study_dir).resolve()
    study_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    ex = spec.execution
    jobs = jobs or ex.jobs
    threads = ex.threads_per_run or max(1, (os.cpu_count() or 1) // jobs)
    pool = make_executor(executor or ex.executor, study_dir, jobs, ex.slurm, ex.gpus_per_run)
    atomic_write_text(study_dir / "study.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    data = prepare_data(spec, study_dir, pool)  # a stage runs alone: all cores
    vocab, unique = shards_sizes(data)
    dropped: list[dict[str, Any]] = []
    runs = expand(spec, shards_fingerprints(data), count_params or default_param_counter, vocab, unique,
                  dropped=dropped)
    write_json(study_dir / "plan.json", {"runs": [r.to_dict() for r in runs], "dropped": dropped, "data": {
        "manifest": str(data.manifest) if data.manifest else None,
        "shards": {k: str(v) for k, v in data.shards.items()},
        "bench": {k: str(v) for k, v in data.bench.items()}, "stages": data.stages}})
    for line in repeat_warnings(runs):
        note(line)
    for d in dropped:
        note(f"[study] dropped arm {d['arm']} {d['preset']} {d['budget']} seed {d['seed']}: {d['reason']}")
    todo = []
    deps = dependencies(runs)
    for r in runs:
        root = run_root(study_dir, r.run_id)
        init = None
        if r.init_run:
            k = data.init[r.arm]["k"]
            init = {"run_id": r.init_run, "root": str(run_root(study_dir, r.init_run)), **data.init[r.arm],
                    "model": str(init_model_dir(study_dir, r.init_run, k))}
        prepare_run(root, r, data.shards[r.arm], data.bench, init, spec.scoring.model_dump())
        if needs_work(RunPaths(root), ex.retry_failed):
            todo.append((r.run_id, RunJob(str(root), threads, ex.retry_failed, ex.timeout_s, ex.gpus_per_run,
                                          ex.trainer, ex.evaluator, ex.extender)))
    # Longest chain of training first (a run others start from carries their cost too), so the
    # dependents start early and short runs fill the workers at the end.
    priority = critical_path(runs)
    todo.sort(key=lambda item: -priority.get(item[0], 0.0))
    note(f"[study] {len(runs)} runs planned, {len(runs) - len(todo)} already done, {len(todo)} to run "
         f"({executor or ex.executor}, {jobs} worker(s), {threads} thread(s) each)")
    states: dict[str, str] = {}
    with make_progress("run") as prog:
        task = prog.add_task("runs", total=len(todo), rate="")

        def on_done(run_id: str, state: str) -> None:
            states[run_id] = state
            prog.update(task, advance=1)
            note(run_line(run_id, state, study_dir))
            store.write_results(study_dir)  # the table is always current, and always rebuildable

        pool.run_all(todo, on_done, deps)
    rows = store.write_results(study_dir)
    fits = analysis.analyse(spec, study_dir, rows)
    fits["wall_s"] = round(time.time() - t0, 2)
    write_json(study_dir / "fits.json", analysis.public(fits))
    result = {"runs": len(runs), "ran": len(todo), "states": states, "fits": fits,
              "study_dir": str(study_dir)}
    if report:
        from slmscale.study.report import write_report

        result["report"] = str(write_report(study_dir, spec, rows, fits))
    return result
