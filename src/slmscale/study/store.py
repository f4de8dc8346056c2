"""The results store: one folder per run, and a results table always rebuilt from those folders.

Layout of a study folder DIR:
  study.yaml, plan.json       the validated spec and the expanded runs (ids in order)
  data/                       built data stages (corpus, tokenizer, shards, benchmarks)
  runs/<run_id>/              one run's folder (layout: slmscale.study.runstate)
  results.csv, results.parquet  one row per run folder (DESIGN.md columns + study columns)
  fits.json, report.html
The table is derived data: `collect()` reads every run folder's run.json/status.json/summary.json, so
a crash between a run finishing and the table being written loses nothing, and each run appears once.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from slmscale.artifacts import atomic_write_bytes, atomic_write_text, read_json
from slmscale.eval.tasks import result_columns
from slmscale.study.runstate import RunPaths, read_status, read_summary, run_state

# `flops` is training compute (6·N·D over all trained tokens, N non-embedding) and `flops_full` the
# full count (embeddings, head, attention); `init_flops` / `init_flops_full` the compute already in
# the starting model (0 from scratch, the text run's for interleaved runs that start from one,
# empty when unknown) and `flops_total` flops + init_flops; `unique_tokens` U, the distinct training
# tokens (epochs = tokens / U); `compute_partner` the run whose flops_full this run's budget matches;
# `speech_token_share` the share of trained tokens that are speech units; `init_run` the run a run
# starts from.
COLUMNS = ["run_id", "arm", "kind", "preset", "budget", "seed", "params", "params_total", "tokens",
           "flops", "flops_full", "epochs", "unique_tokens", "loss", "status", *result_columns(), "init_run",
           "init_flops", "init_flops_full", "flops_total", "compute_partner", "speech_token_share", "wall_s",
           "run_wall_s", "error"]


def run_dirs(study_dir: str | Path) -> list[Path]:
    root = Path(study_dir) / "runs"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if RunPaths(p).spec.is_file())


def _num(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v if math.isfinite(float(v)) else None
    return v


def row_for(run_root: Path) -> dict[str, Any]:
    paths = RunPaths(run_root)
    spec = read_json(paths.spec)
    summary = read_summary(paths)
    status = read_status(paths)
    state = run_state(paths)
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(run_id=spec["run_id"], arm=spec["arm"], kind=spec["kind"], preset=spec["preset"],
               budget=spec["budget"], seed=spec["seed"], params=spec["params"],
               tokens=spec["tokens"], flops=spec["flops"], flops_full=spec.get("flops_full"),
               epochs=spec.get("epochs"), unique_tokens=spec.get("unique_tokens"),
               compute_partner=spec.get("compute_partner") or None)
    # The trainer's own counts win over the plan (tokens actually trained on, exact N).
    for key in ("params", "params_total", "tokens", "flops", "flops_full", "epochs", "unique_tokens", "loss",
                "wall_s", "init_flops", "init_flops_full", "flops_total", "speech_token_share"):
        if summary.get(key) is not None:
            row[key] = _num(summary[key])
    row["init_run"] = spec.get("init_run") or None
    if row["init_flops"] is None and not spec.get("init_run") and summary:
        row["init_flops"] = 0.0  # a run from scratch (summaries older than init accounting)
    if row["flops_total"] is None and row["init_flops"] is not None and row["flops"] is not None:
        row["flops_total"] = row["flops"] + row["init_flops"]
    for col in result_columns():
        v = summary.get(col)
        if isinstance(v, dict):  # an EVAL that stores a breakdown: take its headline accuracy
            v = v.get("accuracy")
        row[col] = _num(v)
    row["status"] = state
    row["run_wall_s"] = status.get("wall_s")  # the whole job: process start, training, evaluation
    err = status.get("error")
    if status.get("eval_errors"):
        err = "; ".join([*([err] if err else []),
                         *(f"eval {t}: {e}" for t, e in status["eval_errors"].items())])
    row["error"] = err
    return row


def collect(study_dir: str | Path) -> list[dict[str, Any]]:
    """One row per run folder, sorted by run id."""
    return [row_for(p) for p in run_dirs(study_dir)]


def write_results(study_dir: str | Path) -> list[dict[str, Any]]:
    """Rebuild DIR/results.csv and DIR/results.parquet from the run folders (atomic writes)."""
    import pandas as pd

    rows = collect(study_dir)
    df = pd.DataFrame(rows, columns=COLUMNS)
    study_dir = Path(study_dir)
    atomic_write_text(study_dir / "results.csv", df.to_csv(index=False))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(study_dir / "results.parquet", buf.getvalue())
    return rows


def finished_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows usable for fits: finished, with a finite positive loss."""
    return [r for r in rows if r["status"] == "finished" and r["loss"] is not None
            and r["loss"] > 0 and r["tokens"] and r["params"]]
