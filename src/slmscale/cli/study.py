"""`slmscale study run|status|report`: whole scaling studies from one YAML file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import List, Optional

import typer

study_app = typer.Typer(help="Plan, run and report scaling studies (see docs/study.md).",
                        no_args_is_help=True)

BAD_STATES = ("failed", "diverged", "error", "blocked")


@study_app.command("run")
def run(spec_path: Path = typer.Argument(..., help="study spec YAML (see configs/studies/)"),
        out: Path = typer.Option(..., "--out", help="study folder (created; re-running resumes)"),
        executor: Optional[str] = typer.Option(None, "--executor", help="local | submitit"),
        jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="runs in parallel"),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed runs again"),
        no_report: bool = typer.Option(False, "--no-report", help="skip report.html"),
        set_: List[str] = typer.Option([], "--set", help="override a spec key: a.b=value")) -> None:
    """Build the data, run every run not yet done, collect results, fit, and write the report.
    Exits 1 when a run failed or diverged (the others still finish and are reported)."""
    from slmscale.errors import UserError
    from slmscale.study.pipeline import run_study
    from slmscale.study.spec import RepeatedDataWarning, load_spec

    if executor not in (None, "local", "submitit"):
        raise UserError(f"--executor {executor!r}: choose local or submitit")
    overrides = list(set_) + (["execution.retry_failed=true"] if retry_failed else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RepeatedDataWarning)
        spec = load_spec(spec_path, overrides)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    res = run_study(spec, out, executor=executor, jobs=jobs, report=not no_report)
    _print_summary(res)
    exit_if_runs_failed(res)


def exit_if_runs_failed(res: dict) -> None:
    """Exit 1 (after everything else was written) when a run of this invocation did not finish."""
    bad = sorted(rid for rid, state in res["states"].items() if state.startswith(BAD_STATES))
    if bad:
        typer.echo(f"error: {len(bad)} run(s) did not finish: {', '.join(bad)} (see `slmscale study status "
                   f"{res['study_dir']}`)", err=True)
        raise typer.Exit(1)


def _print_summary(res: dict) -> None:
    fits = res["fits"]
    typer.echo(f"runs: {res['runs']} planned, {res['ran']} executed now, "
               f"{fits['n_finished']} finished, {len(fits['excluded'])} excluded from fits")
    for e in fits["excluded"]:
        typer.echo(f"  excluded {e['run_id']}: {e['status']}" + (f" ({e['error']})" if e["error"] else ""))
    typer.echo(f"results: {Path(res['study_dir']) / 'results.csv'}")
    if res.get("report"):
        typer.echo(f"report: {res['report']}")


@study_app.command("status")
def status(study_dir: Path = typer.Argument(..., help="study folder"),
           as_json: bool = typer.Option(False, "--json", help="print the runs as JSON (one object)")) -> None:
    """Show a table of the study's runs and its progress (full width, also when piped)."""
    from slmscale.errors import UserError
    from slmscale.eval.tasks import result_columns
    from slmscale.study import store

    if not (study_dir / "plan.json").is_file() and not (study_dir / "runs").is_dir():
        raise UserError(f"{study_dir}: not a study folder (no plan.json); run `slmscale study run` first")
    rows = store.collect(study_dir)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    if as_json:
        typer.echo(json.dumps({"study": str(study_dir), "counts": counts, "runs": rows}, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"study {study_dir}")
    for col in ("run", "arm", "preset", "budget", "tokens", "epochs", "loss", "status", "evals", "wall s"):
        table.add_column(col, no_wrap=True)
    colors = {"finished": "green", "failed": "red", "diverged": "red", "running": "yellow"}
    for r in rows:
        evals = " ".join(f"{c}={r[c]:.2f}" for c in result_columns() if r.get(c) is not None)
        st = r["status"]
        table.add_row(r["run_id"], r["arm"], r["preset"], r["budget"], f"{r['tokens']:,}",
                      f"{r['epochs']:.2f}" if r["epochs"] is not None else "",
                      f"{r['loss']:.4f}" if r["loss"] is not None else "", f"[{colors.get(st, 'white')}]{st}",
                      evals, f"{r['wall_s']:.1f}" if r["wall_s"] is not None else "")
    console = Console()
    if not console.is_terminal:  # piped: as wide as the table, never cut at 80 columns
        console = Console(width=max(80, Console(width=100_000).measure(table).maximum), no_color=True)
    console.print(table)
    console.print(f"{len(rows)} runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


@study_app.command("report")
def report(study_dir: Path = typer.Argument(..., help="study folder")) -> None:
    """Rebuild results.csv and fits.json from the run folders and write DIR/report.html."""
    from slmscale.study.report import report_from_dir

    typer.echo(f"report: {report_from_dir(study_dir)}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(study_app, name="study")
