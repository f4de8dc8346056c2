"""`slmscale eval`: score a training run on spoken (or text) pair benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from slmscale.errors import UserError


def eval_cmd(
    run: Path = typer.Option(..., "--run", help="Run folder made by `slmscale train` (holds final/)."),
    bench: Path = typer.Option(..., "--bench", help="Benchmark root (lexical/, syntactic/, "
                               "sStoryCloze/, tStoryCloze/) or one task's folder."),
    task: Optional[str] = typer.Option(None, "--task", help="swuggy | sblimp | ssc (sstorycloze) | "
                                       "tsc (tstorycloze)."),
    all_tasks: bool = typer.Option(False, "--all", help="Every task found under --bench."),
    normalize: str = typer.Option("mean", "--normalize", help="mean (per-token, default) or sum."),
    split: str = typer.Option("dev", "--split", help="ZeroSpeech split folder for sWUGGY/sBLIMP."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Sequences per forward pass."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Token cache folder "
                                             "(default: BENCH/.slmscale-cache)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
) -> None:
    """Score RUN on TASK: writes RUN/eval/<task>/scores.json and <split>.txt, updates summary.json."""
    from slmscale.eval.run import available_tasks, evaluate_run, read_run_info

    if all_tasks == (task is not None):
        raise UserError("give exactly one of --task T or --all")
    if all_tasks:
        _, info = read_run_info(run)
        tasks = available_tasks(bench, text=info.get("modality") == "text", split=split)
        if not tasks:
            raise UserError(f"{bench}: no benchmark task folders found (lexical/, syntactic/, "
                            "sStoryCloze/, tStoryCloze/)")
    else:
        tasks = [task]
    results = {}
    for t in tasks:
        s = evaluate_run(run, t, bench, normalize, split=split, batch_size=batch_size,
                         cache_dir=cache_dir, device=device)
        results[s["task"]] = s["headline"]
        typer.secho(f"{s['task']}: {s['headline']:.4f} ({s['n_pairs']} pairs x {s['n_voices']} voices, "
                    f"voice-pair {s['voice_pair_accuracy']:.4f}, {s['utterances_per_s']} utt/s) "
                    f"-> {Path(run) / 'eval' / s['task']}", err=True)
    typer.echo(json.dumps(results, sort_keys=True))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("eval", help="Score a run on sWUGGY / sBLIMP / sStoryCloze / tStoryCloze.")(eval_cmd)
