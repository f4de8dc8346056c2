"""`slmscale study run|status|report`: whole scaling studies from one YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

study_app = typer.Typer(help="Plan, run and report scaling studies (see docs/study.md).",
                        no_args_is_help=True)


@study_app.command("run")
def run(spec_path: Path = typer.Argument(..., help="study spec YAML (see configs/studies/)"),
        out: Path = typer.Option(..., "--out", help="study folder (created; re-running resumes)"),
        executor: Optional[str] = typer.Option(None, "--executor", help="local | submitit"),
        jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="runs in parallel"),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed runs again"),
        no_report: bool = typer.Option(False, "--no-report", help="skip report.html"),
        set_: List[str] = typer.Option([], "--set", help="override a spec key: a.b=value")) -> None:
    """Build the data, run every run not yet done, collect results, fit, and write the report."""
    from slmscale.errors import UserError
    from slmscale.study.pipeline import run_study
    from slmscale.study.spec import load_spec

    if executor not in (None, "local", "submitit"):
        raise UserError(f"--executor {executor!r}: choose local or submitit")
    overrides = list(set_) + (["execution.retry_failed=true"] if retry_failed else [])
    spec = load_spec(spec_path, overrides)
    res = run_study(spec, out, executor=executor, jobs=jobs, report=not no_report)
    _print_summary(res)


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
def status(study_dir: Path = typer.Argument(..., help="study folder")) -> None:
    """Show a table of the study's runs and its progress."""
    from rich.console import Console
    from rich.table import Table

    from slmscale.errors import UserError
    from slmscale.study import store

    if not (study_dir / "plan.json").is_file() and not (study_dir / "runs").is_dir():
        raise UserError(f"{study_dir}: not a study folder (no plan.json); run `slmscale study run` first")
    rows = store.collect(study_dir)
    table = Table(title=f"study {study_dir}")
    for col in ("run", "arm", "preset", "budget", "tokens", "loss", "status", "evals", "wall s"):
        table.add_column(col)
    colors = {"finished": "green", "failed": "red", "diverged": "red", "running": "yellow"}
    from slmscale.study.spec import TASK_COLUMNS

    for r in rows:
        evals = " ".join(f"{c}={r[c]:.2f}" for c in TASK_COLUMNS.values() if r.get(c) is not None)
        st = r["status"]
        table.add_row(r["run_id"], r["arm"], r["preset"], r["budget"], f"{r['tokens']:,}",
                      f"{r['loss']:.4f}" if r["loss"] is not None else "", f"[{colors.get(st, 'white')}]{st}",
                      evals, f"{r['wall_s']:.1f}" if r["wall_s"] is not None else "")
    console = Console()
    console.print(table)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    console.print(f"{len(rows)} runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


@study_app.command("report")
def report(study_dir: Path = typer.Argument(..., help="study folder")) -> None:
    """Rebuild results.csv and fits.json from the run folders and write DIR/report.html."""
    from slmscale.study.report import report_from_dir

    typer.echo(f"report: {report_from_dir(study_dir)}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(study_app, name="study")
