"""The papers' findings for a study: `slmscale.scaling.findings.assess` on the study's finished runs,
with each metric's floor raised to its strongest surface baseline when the benchmark folders carry
an audit (`audit.json`, written by `slmscale synth bench` next to each task and by `slmscale bench
audit DIR` at a benchmark root). Written to DIR/findings.json; the report puts it first.

The audit files are read as JSON only (this module does not import the audit code): a task audit
`{"task": "sblimp", "n_pairs": 200, "strongest": {"baseline": "...", "accuracy": 0.53}}`, or a
benchmark audit `{"tasks": {"sblimp": <task audit>, ...}}`. A file that is absent is normal; one
that cannot be read is skipped and listed (`baselines.skipped` in findings.json).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from slmscale.errors import UserError
from slmscale.eval.tasks import get_task
from slmscale.study.spec import StudySpec

AUDIT_FILE = "audit.json"
# Presets too small to address some findings: their "not tested" rows say what would test them.
SMALL_HINT = "run `slmscale demo --preset small`"
NEEDS_SMALL = ("demo-ci", "demo-tiny")


def hint_for(spec: StudySpec) -> str | None:
    return SMALL_HINT if spec.name in NEEDS_SMALL else None


def _bench_dirs(study_dir: Path, spec: StudySpec) -> list[Path]:
    """The benchmark folders the study's evaluations read (plan.json), and the spec's given root."""
    dirs: list[Path] = []
    plan = study_dir / "plan.json"
    if plan.is_file():
        try:
            dirs += [Path(p) for p in (json.loads(plan.read_text()).get("data") or {}).get("bench", {}).values()]
        except (OSError, ValueError, AttributeError):
            pass  # the pipeline rewrites plan.json on every run; the spec's root still counts
    bench = spec.data.bench
    if bench is not None and bench.path is not None:
        dirs.append(Path(bench.path))
    return list(dict.fromkeys(dirs))


def audit_files(study_dir: str | Path, spec: StudySpec) -> list[Path]:
    """`audit.json` at each benchmark folder and in its task folders (lexical/, syntactic/, ...)."""
    files: list[Path] = []
    for d in _bench_dirs(Path(study_dir), spec):
        for f in (d / AUDIT_FILE, *sorted(d.glob(f"*/{AUDIT_FILE}"))):
            if f.is_file() and f not in files:
                files.append(f)
    return files


def _task_audits(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("tasks"), dict):
        return [{"task": k, **v} if isinstance(v, dict) else {"task": k} for k, v in doc["tasks"].items()]
    if isinstance(doc, dict) and "task" in doc:
        return [doc]
    raise ValueError("neither a task audit ({task, strongest}) nor a benchmark audit ({tasks: {...}})")


def _baseline(rec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(results column, {accuracy, baseline, n?}) of one task audit; ValueError when unusable."""
    task = str(rec["task"])
    strongest = rec.get("strongest")
    if not isinstance(strongest, dict) or "accuracy" not in strongest:
        raise ValueError(f"task {task!r}: no 'strongest' {{baseline, accuracy}}")
    acc = float(strongest["accuracy"])
    if not (math.isfinite(acc) and 0.0 <= acc <= 1.0):
        raise ValueError(f"task {task!r}: strongest accuracy {strongest['accuracy']!r} is not in [0, 1]")
    entry: dict[str, Any] = {"accuracy": acc, "baseline": str(strongest.get("baseline", ""))}
    if isinstance(rec.get("n_pairs"), int) and rec["n_pairs"] > 0:
        entry["n"] = rec["n_pairs"]  # the floor's interval: binomial over the pairs
    try:
        column = get_task(task).column
    except UserError:  # an audit of a task the registry does not know: keep its own name
        column = task
    return column, entry


def load_baselines(study_dir: str | Path, spec: StudySpec) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Metric column -> strongest surface baseline over the study's audit files (None when there
    are none), and what was read: {"files": [...], "skipped": [{"file", "reason"}]}. When two files
    audit the same task, the stronger baseline counts (the higher floor)."""
    study_dir = Path(study_dir)
    out: dict[str, Any] = {}
    info: dict[str, Any] = {"files": [], "skipped": []}
    for f in audit_files(study_dir, spec):
        name = str(f.relative_to(study_dir)) if f.is_relative_to(study_dir) else str(f)
        try:
            found = [_baseline(r) for r in _task_audits(json.loads(f.read_text(encoding="utf-8")))]
        except (OSError, ValueError, KeyError, TypeError) as err:
            info["skipped"].append({"file": name, "reason": str(err).splitlines()[0] if str(err) else
                                    type(err).__name__})
            continue
        info["files"].append(name)
        for col, entry in found:
            if col not in out or entry["accuracy"] > out[col]["accuracy"]:
                out[col] = {**entry, "source": name}
    return out or None, info


def study_findings(spec: StudySpec, study_dir: str | Path, done: list[dict[str, Any]],
                   degenerate: list[dict[str, Any]]) -> dict[str, Any]:
    """Assess every finding on the finished runs of the enabled arms and write DIR/findings.json
    (atomically); returns the document. Fits in `degenerate` cannot make a finding reproduced."""
    import pandas as pd

    from slmscale.scaling import findings

    study_dir = Path(study_dir)
    kinds = {a.name: a.kind for a in spec.enabled_arms()}
    rows = [r for r in done if r.get("arm") in kinds]
    df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["arm", "params", "tokens", "loss"])
    baselines, info = load_baselines(study_dir, spec)
    hint = hint_for(spec)
    meta = {"study": spec.name, "source": "results.csv (finished runs of the current plan)",
            "n_boot": spec.fits.bootstrap, "seed": spec.seed, "huber_delta": spec.fits.huber_delta,
            "hint": hint, "baselines": {"by_metric": baselines or {}, **info}}
    try:
        recs = findings.assess(df, kinds=kinds, baselines=baselines, n_boot=spec.fits.bootstrap,
                               seed=spec.seed, huber_delta=spec.fits.huber_delta, hint=hint,
                               degenerate=degenerate)
    except (ValueError, RuntimeError, ArithmeticError, UserError) as err:
        # The fits and the rest of the report still stand; every finding says why it has no verdict.
        why = f"the findings could not be computed: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        recs = [findings.Finding(fid, "—", verdict="not tested", reason=why) for fid in findings.CLAIMS]
        meta["error"] = why
    return findings.write_findings(study_dir / "findings.json", recs, **meta)
