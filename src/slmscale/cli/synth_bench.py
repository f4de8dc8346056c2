"""CLI: `slmscale synth bench` — synthetic sWUGGY/sBLIMP/StoryCloze benchmarks in official layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def bench_cmd(
    out: Path = typer.Option(Path("bench"), "--out", help="Benchmark root (lexical/, syntactic/, sStoryCloze/, "
                             "tStoryCloze/, meta.json)."),
    task: str = typer.Option("all", "--task", help="swuggy | sblimp | sstorycloze | tstorycloze | all "
                             "(comma-separated list allowed; a text or cross-modal task name builds "
                             "its benchmark). StoryCloze folders include crossmodal/ (context and "
                             "endings spoken apart)."),
    voices: Optional[str] = typer.Option(None, "--voices", help="Comma-separated voices or voice sets "
                                         "(default: the held-out test voices, unseen accents; test-speaker: "
                                         "unseen speakers of the training accents; see `slmscale synth voices`)."),
    matched: bool = typer.Option(False, "--matched", help="Use training voices (matched speakers)."),
    n: Optional[int] = typer.Option(None, "--n", help="Items per task: sWUGGY pairs (300), sBLIMP pairs "
                                    "per phenomenon (100), StoryCloze stories (100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the items (same as the corpus seed)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Synthesis processes (default: all cores)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when up to date."),
    show: Optional[int] = typer.Option(None, "--show", min=1, help="Print a random sample of this many "
                                       "items of each task (text only: nothing is written; the candidates are timed with "
                                       "espeak-ng, as a build would) and exit."),
) -> None:
    """Speak benchmark items in several voices, written as ZeroSpeech / StoryCloze folders + text.jsonl
    (+ crossmodal/ audio for the cross-modal StoryCloze tasks)."""
    from slmscale.cli.lists import comma_list
    from slmscale.config import validate
    from slmscale.errors import UserError
    from slmscale.eval.synth_bench import BenchConfig, build_bench

    if voices is not None and matched:
        raise UserError("give --voices or --matched, not both")
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    tasks = None if task == "all" else comma_list(task, "--task")
    data = {"voices": comma_list(voices, "--voices"), "matched": matched, "n": n, "seed": seed}
    if tasks is not None:
        data["tasks"] = tasks
    cfg = validate(BenchConfig, data, "synth bench options")
    if show is not None:
        from slmscale.eval.synth_bench import sample_lines

        for line in sample_lines(cfg, show):
            typer.echo(line)
        return
    meta = build_bench(cfg, out, workers=workers, force=force)
    for t, s in meta["tasks"].items():
        typer.echo(f"{t}: {s['pairs']} items, {s['utterances']} utterances, "
                   f"{len(s['dropped_pairs'] or [])} dropped -> {out}")


def register(app: typer.Typer) -> None:
    """Add `bench` to the `synth` sub-app."""
    app.command("bench")(bench_cmd)
