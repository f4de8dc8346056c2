"""`slmscale bench audit DIR`: surface-baseline accuracies of a benchmark folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

bench_app = typer.Typer(help="Check benchmark folders.", no_args_is_help=True)


@bench_app.command("audit")
def audit_cmd(
    bench: Path = typer.Argument(..., help="Benchmark root (lexical/, syntactic/, sStoryCloze/, "
                                 "tStoryCloze/) in the ZeroSpeech 2021 / Spoken StoryCloze layout."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Training corpus text (one document "
                                          "per line, or JSONL with 'text') for the frequency and "
                                          "phone n-gram baselines (default: a synthetic build's own "
                                          "corpus; otherwise length baselines only)."),
    out: Optional[Path] = typer.Option(None, "--out", help="JSON report (default: DIR/audit.json)."),
    split: str = typer.Option("dev", "--split", help="ZeroSpeech split folder."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a baseline is out of bounds."),
) -> None:
    """Accuracy of knowledge-free baselines (length, word/phone frequency, phone n-grams, word
    overlap) on every task; a valid benchmark keeps them near 0.5."""
    from slmscale.artifacts import atomic_write_text
    from slmscale.eval.audit import AUDIT_FILE, audit_bench, dumps, format_table

    report = audit_bench(bench, corpus, split)
    target = out or bench / AUDIT_FILE
    atomic_write_text(target, dumps(report))
    typer.echo(format_table(report))
    typer.echo(f"-> {target}", err=True)
    if strict and not report["within_bounds"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
