"""`slmscale eval`: score a training run on spoken (or text) pair benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperCommand

from slmscale.errors import UserError


def eval_cmd(
    run: Path = typer.Option(..., "--run", help="Run folder made by `slmscale train` (holds final/)."),
    bench: Path = typer.Option(..., "--bench", help="Benchmark root (lexical/, syntactic/, "
                               "sStoryCloze/, tStoryCloze/) or one task's folder."),
    task: Optional[str] = typer.Option(None, "--task", help="swuggy | sblimp | ssc (sstorycloze) | "
                                       "tsc (tstorycloze); text versions <task>_text; cross-modal "
                                       "sstorycloze_t2s | sstorycloze_s2t | tstorycloze_t2s | "
                                       "tstorycloze_s2t (interleaved runs)."),
    all_tasks: bool = typer.Option(False, "--all", help="Every task found under --bench (interleaved "
                                   "runs: speech, text and cross-modal)."),
    modality: Optional[str] = typer.Option(None, "--modality", help="speech | text: which version of "
                                           "the task (default: the run's own; interleaved: speech). "
                                           "With --all, only that version."),
    normalize: Optional[str] = typer.Option(None, "--normalize", help="mean (per-token, default) or "
                                            "sum (zerospeech protocol only; the others fix mean)."),
    protocol: str = typer.Option("zerospeech", "--protocol", help="zerospeech (default: tokens + "
                                 "terminal EOS) | cm2024 (mean unit NLL, no EOS) | slamkit (whole "
                                 "sequence mean NLL, unrestricted softmax); see docs/eval.md."),
    truncation: str = typer.Option("slide", "--truncation", help="Items longer than the model's "
                                   "context: slide (score every token over sliding windows, each "
                                   "token with >= half a context before it), cut (score them cut from "
                                   "the left, with a warning) or refuse (error); counted in scores.json."),
    split: str = typer.Option("dev", "--split", help="ZeroSpeech split folder for sWUGGY/sBLIMP."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Sequences per forward pass."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Token cache folder "
                                             "(default: BENCH/.slmscale-cache)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write results to OUT/<key>/ instead of "
                                       "RUN/eval/<key>/ and leave RUN/summary.json alone: a score on a "
                                       "second benchmark that keeps the run's own result."),
    replace: bool = typer.Option(False, "--replace", help="Replace a result scored on another "
                                 "benchmark folder (refused by default, so no score is lost silently)."),
    voice_seconds: str = typer.Option("all", "--voice-seconds", help="Voice-normalised tokenizers: "
                                      "each benchmark voice's statistics come from all of its audio "
                                      "(default) or from its first S seconds, ranked by item name."),
) -> None:
    """Score RUN on TASK: writes RUN/eval/<key>/scores.json and <split>.txt, updates summary.json."""
    from slmscale.eval.run import (check_results, evaluate_run, load_model, read_run_info, resolve_task,
                                   run_modality, run_tasks)

    if all_tasks == (task is not None):
        raise UserError("give exactly one of --task T or --all")
    from slmscale.eval.protocols import get_protocol
    from slmscale.eval.protocols import TRUNCATION

    get_protocol(protocol).resolve_normalize(normalize)  # a bad combination fails before loading
    if truncation not in TRUNCATION:
        raise UserError(f"--truncation must be one of {', '.join(TRUNCATION)}, got {truncation!r}")
    seconds = parse_voice_seconds(voice_seconds)
    final, info = read_run_info(run)
    if all_tasks:
        tasks = run_tasks(bench, run_modality(info), split=split, modality=modality)
        if not tasks:
            raise UserError(f"{bench}: no benchmark task folders found (lexical/, syntactic/, "
                            "sStoryCloze/, tStoryCloze/) for this run")
        modality = None  # --all lists each version under its own task name
    else:
        resolve_task(task, modality, run_modality(info), final)  # bad combinations fail before loading
        tasks = [task]
    check_results(run, tasks, bench, modality=modality, split=split, out=out, replace=replace)  # before any work
    model = load_model(final, device)  # once for every task
    results = {}
    for t in tasks:
        s = evaluate_run(run, t, bench, normalize, modality=modality, split=split, batch_size=batch_size,
                         cache_dir=cache_dir, device=device, model=model, protocol=protocol,
                         truncation=truncation, out=out, replace=replace, voice_seconds=seconds)
        results[s["task"]] = s["headline"]
        lo, hi = s["interval"]
        typer.secho(f"{s['task']}: {s['headline']:.4f} [{lo:.3f}, {hi:.3f}] ({s['n_pairs']} pairs x "
                    f"{s['n_voices']} voices, voice-pair {s['voice_pair_accuracy']:.4f}, "
                    f"{s['utterances_per_s']} utt/s) -> {(out or Path(run) / 'eval') / s['task']}", err=True)
        if s.get("surface_baseline"):
            typer.secho(f"{s['task']}: {surface_line(s['surface_baseline'])}", err=True)
        if s.get("n_voices", 1) > 1:
            typer.secho(f"{s['task']}: per voice {voice_line(s)}", err=True)
    typer.echo(json.dumps(results, sort_keys=True))


def surface_line(v: dict) -> str:
    """The comparison with the benchmark's strongest surface baseline, in one line."""
    lo, hi = v["interval"]
    how = f"paired over {v['n_pairs']} pairs" if v["paired"] else (
        "unpaired: the audit has no per-pair outcomes, re-run `slmscale bench audit`")
    return (f"{v['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] against the strongest surface baseline "
            f"({v['baseline']}, {v['baseline_accuracy']:.3f}; {how}): {v['verdict']}")


def parse_voice_seconds(value: str) -> float | None:
    """`--voice-seconds`: 'all' (None) or a positive number of seconds (the tokenizer's own
    `voice_norm.min_seconds` is checked when its statistics are computed)."""
    if value.strip().lower() == "all":
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise UserError(f"--voice-seconds must be 'all' or a positive number of seconds, got {value!r}")
    return seconds


def voice_line(s: dict) -> str:
    """Each voice's accuracy and, with an audit, its paired difference from the surface baseline."""
    parts = []
    for voice, acc in s["per_voice"].items():
        part = f"{voice} {acc:.3f}"
        v = (s.get("per_voice_surface") or {}).get(voice)
        if v:
            lo, hi = v["interval"]
            part += f" ({v['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] {v['verdict']})"
        parts.append(part)
    return "; ".join(parts)


def compare_cmd(
    results: list[Path] = typer.Argument(..., help="Group A: eval result folders (RUN/eval/<key>, or an "
                                         "`eval --out` folder's <key>; with --task, the run or --out "
                                         "folders), e.g. one recipe's seeds."),
    against: list[str] = typer.Option(..., "--against", help="Group B: eval result folders (every "
                                      "folder after --against up to the next option, so a shell glob works; "
                                      "or the option repeated), or 'surface' for the benchmark's strongest "
                                      "surface baseline (from its audit)."),
    task: Optional[str] = typer.Option(None, "--task", help="Take run folders (RUN/eval/<key>) and `eval "
                                       "--out` folders (DIR/<key>) as their result of this task."),
    resample: str = typer.Option("draws", "--resample", help="What the interval covers: 'draws' "
                                 "(default: the pairs and each group's independent draws, i.e. the encoder "
                                 "checkpoints its LMs read when there are several, else its LMs; a t interval "
                                 "from both variances) or 'pairs' (the pair bootstrap only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Group A against group B pair by pair: the difference in pair accuracy, its 95 % interval and
    a verdict, overall and per benchmark folder. Each pair's outcome is averaged over a group's
    results first, so a group of seeds counts as one recipe."""
    from slmscale.eval.compare import SURFACE, compare_results, format_comparison

    if SURFACE in against and len(against) > 1:
        raise UserError(f"--against {SURFACE} stands alone: compare with the baseline or with results, not both")
    got = compare_results(list(results), SURFACE if against == [SURFACE] else [Path(b) for b in against], task,
                         resample)
    typer.echo(json.dumps(got, indent=1, sort_keys=True) if as_json else format_comparison(got))


def against_takes_what_follows(args: list[str]) -> list[str]:
    """`--against B1 B2 ...` as `--against B1 --against B2 ...`: every plain argument after
    `--against`, up to the next option, belongs to group B. Click gives an option one value, so
    a shell glob after `--against` would otherwise put all its folders but the first in group A,
    and compare the wrong groups without a word."""
    out: list[str] = []
    greedy = False
    for i, arg in enumerate(args):
        if arg == "--":  # the rest are group A, whatever they look like
            return out + args[i:]
        if arg.startswith("-"):
            greedy = arg == "--against" or arg.startswith("--against=")
        elif greedy and out[-1] != "--against":
            out.append("--against")
        out.append(arg)
    return out


class _CompareCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, against_takes_what_follows(args))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("eval", help="Score a run on sWUGGY / sBLIMP / sStoryCloze / tStoryCloze (speech, text "
                "and cross-modal versions).")(eval_cmd)
    app.command("compare", cls=_CompareCommand, help="Compare two groups of eval results (e.g. two recipes' seeds), or one "
                "group with the surface baseline, pair by pair on the same benchmark.")(compare_cmd)
