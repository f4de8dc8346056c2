"""`slmscale data inspect SHARDS`: what a shards directory holds, and how its tokens are used."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def inspect_cmd(
    shards: Path = typer.Argument(..., help="Shards directory (from `units encode`, `units unigram`, …)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of tables."),
    bins: int = typer.Option(20, "--bins", help="Rows of the usage histogram."),
    verify: bool = typer.Option(False, "--verify", help="Recompute the files' sha256 and compare with meta, "
                                                        "and check every token id; exit 2 on any mismatch."),
) -> None:
    """Print a shards summary and a token-usage histogram (ids ranked by frequency)."""
    from slmscale.data.shard_summary import summarize, verify_problems
    from slmscale.errors import UserError

    summary = summarize(shards, verify=verify)
    if as_json:
        summary.pop("counts")
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _render(summary, bins)
    problems = verify_problems(summary)
    if problems:
        raise UserError(f"{shards}: verify failed: {'; '.join(problems)}; rebuild the shards")


def _render(s: dict, bins: int) -> None:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from slmscale.data.shard_summary import rank_buckets

    console = Console()
    t = Table(title=f"shards: {s['path']}", show_header=False)
    tok = s["tokenizer"]
    rows = [("modality", s["modality"]), ("vocabulary", f"{s['vocab_size']} ({s['dtype']}), special "
                                                         f"{s['special_tokens']}"),
            ("documents", f"{s['documents']:,}"), ("tokens", f"{s['tokens']:,}")]
    for name, sp in sorted(s["splits"].items()):
        rows.append((f"  {name}", f"{sp['documents']:,} documents, {sp['tokens']:,} tokens"))
    if tok:
        rows.append(("tokenizer", ", ".join(f"{key}={tok[key]}" for key in
                                            ("encoder", "k", "frame_rate", "dedup", "unigram_vocab") if key in tok)))
    if s.get("audio_hours") is not None:
        rows.append(("audio", f"{s['audio_hours']:.3f} h"))
    if s.get("tokens_per_second") is not None:
        rows.append(("tokens / s of audio", f"{s['tokens_per_second']:.2f}"))
    if "mean_duration_frames" in s:
        rows.append(("frames per token", f"{s['mean_duration_frames']:.3f}"))
    if "compression_ratio" in s:
        rows.append(("compression (units / piece)", f"{s['compression_ratio']:.3f}"))
    u = s["usage"]
    rows.append(("ids used", f"{u['used']:,} / {u['content_ids']:,} ({100 * u['fraction']:.1f}%)"))
    rows.append(("entropy", f"{u['entropy_bits']:.2f} bits (perplexity {u['perplexity']:.1f})"))
    rows.append(("most frequent", ", ".join(f"{i}:{c:,}" for i, c in u["top"][:8])))
    if s["skipped"]:
        rows.append(("skipped inputs", f"{len(s['skipped'])}"))
    if "checksums_ok" in s:
        rows.append(("checksums", ", ".join(f"{n} {'ok' if ok else 'MISMATCH'}"
                                            for n, ok in s["checksums_ok"].items()) or "none recorded"))
        bad = s.get("bad_token_position")
        rows.append(("token ids", "all inside the vocabulary" if bad is None else f"OUT OF RANGE at {bad}"))
    for key, val in rows:
        t.add_row(key, str(val))
    console.print(t)

    counts = np.asarray(s["counts"])
    h = Table(title="token usage (ids ranked by frequency)", show_edge=False)
    h.add_column("ranks", justify="right")
    h.add_column("share", justify="right")
    h.add_column("")
    buckets = rank_buckets(counts, bins)
    top = max((share for _, _, share in buckets), default=0.0) or 1.0
    for first, last, share in buckets:
        h.add_row(f"{first}-{last}", f"{100 * share:5.1f}%", "█" * int(round(40 * share / top)))
    console.print(h)
    for item in s["skipped"][:20]:
        console.print(f"  skipped {item.get('id')}: {item.get('reason')}", highlight=False)
    if len(s["skipped"]) > 20:
        console.print(f"  … and {len(s['skipped']) - 20} more (see meta.json)")


def register(app: typer.Typer) -> None:
    """Add `inspect` to the `data` sub-app."""
    app.command("inspect")(inspect_cmd)
