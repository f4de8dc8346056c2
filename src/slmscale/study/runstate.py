"""A study run's folder and its state: the one place that spells out the run-dir layout.

  DIR/runs/<run_id>/          RunPaths.root
    run.json                  the RunSpec (plan), shards, benchmark folders, scoring, init (interleaved runs)
    train.yaml                the complete TRAIN config of the run (validated before any work)
    train.log                 everything the run's processes printed
    status.json               the runner's record: status, attempts, wall time, error, eval errors
    eval_errors.json          the worker's per-task evaluation errors
    .lock                     held while a runner works on the run
    run/                      TRAIN's RUN dir (summary.json, checkpoints/, final/, eval/)
Exit codes of a run's worker process: 0 trained, 2 bad config or input, DIVERGED_EXIT diverged,
anything else a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slmscale.artifacts import atomic_write_text, read_json, write_json
from slmscale.config import set_dotted
from slmscale.errors import UserError
from slmscale.locks import is_held
from slmscale.study.expand import RunSpec

DIVERGED_EXIT = 3
SUMMARY = "summary.json"
STATUS = "status.json"
DONE = {"finished"}
FINAL_BAD = {"failed", "diverged"}


@dataclass
class RunPaths:
    root: Path  # DIR/runs/<run_id>

    @property
    def run(self) -> Path:  # TRAIN's RUN dir
        return self.root / "run"

    @property
    def summary(self) -> Path:
        return self.run / SUMMARY

    @property
    def status(self) -> Path:
        return self.root / STATUS

    @property
    def config(self) -> Path:
        return self.root / "train.yaml"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def spec(self) -> Path:
        return self.root / "run.json"

    @property
    def eval_errors(self) -> Path:
        return self.root / "eval_errors.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"


def run_root(study_dir: Path, run_id: str) -> Path:
    """DIR/runs/<run_id>, refused unless it resolves inside DIR/runs (run ids are safe names)."""
    return inside(study_dir / "runs", run_id)


def inside(root: Path, name: str) -> Path:
    """root/name, refused unless it resolves inside `root` (no separators, no '..', no links out)."""
    path = (root / name).resolve()
    if path.parent != root.resolve() or name in ("", ".", ".."):
        raise UserError(f"{name!r}: not a plain name; output paths must stay inside {root}")
    return path


def nest(dotted: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        set_dotted(out, key, value)
    return out


def train_config(run: RunSpec, shards: Path, out: Path, init_model: Path | None = None) -> dict[str, Any]:
    """The complete TRAIN config of a run (nested), as written to train.yaml."""
    over = {**run.train, "data.shards": str(shards), "model.preset": run.preset,
            "budget.tokens": int(run.tokens), "seed": int(run.seed), "out": str(out), "run_id": run.run_id}
    if init_model is not None:
        over["model.init_from"] = str(init_model)
    return nest(over)


def prepare_run(root: Path, run: RunSpec, shards: Path, bench: dict[str, Path] | None = None,
                init: dict[str, Any] | None = None, scoring: dict[str, Any] | None = None) -> RunPaths:
    """Write the run's spec and TRAIN config (idempotent: same RunSpec = same bytes).

    `init` (interleaved runs): where the starting model comes from (see slmscale.study.warm_start)."""
    paths = RunPaths(root)
    root.mkdir(parents=True, exist_ok=True)
    config = train_config(run, shards, paths.run, None if init is None else Path(init["model"]))
    text = yaml.safe_dump(config, sort_keys=True)
    if not paths.config.is_file() or paths.config.read_text() != text:
        atomic_write_text(paths.config, text)
    bench = bench or {}
    info = {**run.to_dict(), "shards": str(shards),
            "bench": {t: str(bench[t]) for t in run.tasks if t in bench}}
    if scoring:
        info["scoring"] = dict(scoring)  # protocol and truncation for every task (spec.scoring)
    if init is not None:
        info["init"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in init.items()}
    if not paths.spec.is_file() or read_json(paths.spec) != info:
        write_json(paths.spec, info)
    return paths


def _read(path: Path) -> dict[str, Any]:
    try:
        return read_json(path) if path.is_file() else {}
    except Exception:  # a damaged record is rebuilt, not fatal
        return {}


def read_status(paths: RunPaths) -> dict[str, Any]:
    return _read(paths.status)


def read_summary(paths: RunPaths) -> dict[str, Any]:
    return _read(paths.summary)


def locked(paths: RunPaths) -> bool:
    """True while some runner holds this run's lock (i.e. it is being worked on right now)."""
    return is_held(paths.lock)


def run_state(paths: RunPaths) -> str:
    """Training state: finished | failed | diverged | running | partial (interrupted) | pending."""
    summary = read_summary(paths)
    status = read_status(paths)
    if summary.get("status") in DONE:
        return "finished"
    if summary.get("status") == "diverged" or status.get("status") == "diverged":
        return "diverged"
    if status.get("status") == "failed":
        return "failed"
    if status.get("status") == "running" and locked(paths):
        return "running"
    return "partial" if paths.run.exists() or status else "pending"


def task_done(summary: dict[str, Any], task: str, scoring: dict[str, Any] | None = None,
              run_dir: Path | None = None) -> bool:
    """Whether a run's summary.json holds a score for `task` (under its registered column) made
    with the study's scoring protocol and truncation (a changed `scoring:` re-scores) and, when
    the run (`run_dir`) has a voice-normalised tokenizer, with `slmscale eval`'s current voice
    statistics (a score made before eval used all of each voice's audio is re-scored). A score
    whose scoring was not recorded (a custom evaluator) counts as done."""
    from slmscale.eval.protocols import DEFAULT_TRUNCATION, scoring_record
    from slmscale.eval.tasks import get_task

    column = get_task(task).column
    if summary.get(column) is None:
        return False
    recorded = (summary.get("eval_scoring") or {}).get(column)
    if recorded is None:
        return True
    scoring = scoring or {}
    voice = None
    if run_dir is not None:
        from slmscale.eval.run import voice_statistics_for

        try:
            voice = voice_statistics_for(run_dir, task)
        except UserError:
            voice = recorded.get("voice_statistics")  # no final model to tell: trust the record
    return recorded == scoring_record(scoring.get("protocol"), scoring.get("truncation", DEFAULT_TRUNCATION), voice)


def needs_work(paths: RunPaths, retry_failed: bool = False) -> bool:
    """Whether a runner has anything left to do for this run (train, resume, or evaluate)."""
    state = run_state(paths)
    if state == "finished":
        status = read_status(paths)
        if status.get("status") != "finished" or status.get("missing_evals"):
            return True
        spec, summary = _read(paths.spec), read_summary(paths)  # a changed `scoring:` re-scores
        return not all(task_done(summary, t, spec.get("scoring"), paths.run) for t in spec.get("tasks", []))
    if state == "failed":
        return retry_failed
    return state != "diverged"
