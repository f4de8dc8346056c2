"""`slmscale demo [--preset ci|tiny|small] [--out DIR]`: the whole pipeline on built-in data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""

    @app.command("demo")
    def demo(preset: str = typer.Option("tiny", "--preset", help="ci (~2 min) | tiny (<=15 min) | small"),
             out: Path = typer.Option(Path("demo-out"), "--out", help="output folder (reused: cached)"),
             jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="runs in parallel")) -> None:
        """Synthesise data, train a ladder of speech and text LMs, evaluate, fit, and report."""
        from slmscale.cli.study import _print_summary, exit_if_runs_failed
        from slmscale.study.demo import run_demo

        t0 = time.time()
        res = run_demo(preset, str(out), jobs)
        _print_summary(res)
        typer.echo(f"demo '{preset}' took {time.time() - t0:.0f} s")
        typer.echo(f"open the report: {res['report']}")
        exit_if_runs_failed(res)
