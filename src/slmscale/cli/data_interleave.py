"""CLI: `slmscale data interleave` — SIMS training data (text-only / interleaved / speech-only mix)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from slmscale.errors import UserError


def parse_mix(text: str) -> dict[str, float]:
    """`0.2,0.54,0.25` -> {text, interleaved, speech} token shares."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3:
        raise UserError(f"--mix {text!r}: give three comma-separated shares text,interleaved,speech "
                        "(e.g. 0.2,0.54,0.25)")
    return dict(zip(("text", "interleaved", "speech"), values))


def resolve_units(units: Path, manifest: Path, out: Path, workers: Optional[int], force: bool) -> Path:
    """Unit shards to interleave: `units` itself, or the manifest encoded with the speech tokenizer
    `units` into OUT/units/ (cached like `slmscale units encode`; manifest splits are kept)."""
    from slmscale.artifacts import read_json
    from slmscale.data.shards import is_shards

    if is_shards(units):
        return units
    meta = units / "meta.json"
    if meta.is_file() and read_json(meta).get("kind") == "speech-tokenizer":
        from slmscale.units.encode import encode_manifest

        encoded = out / "units"
        encode_manifest(units, manifest, encoded, valid_fraction=0.0, workers=workers, force=force)
        return encoded
    raise UserError(f"--units {units}: neither unit shards (`slmscale units encode`) nor a speech "
                    "tokenizer (`slmscale units fit`)")


def interleave_cmd(
    manifest: Path = typer.Option(..., "--manifest", help="Utterance manifest with word alignments (JSONL)."),
    units: Path = typer.Option(..., "--units", help="Unit shards from `units encode` (with durations), or a "
                               "speech tokenizer dir from `units fit` (the audio is then encoded into "
                               "OUT/units/ first)."),
    tokenizer: Path = typer.Option(..., "--tokenizer", help="Extended tokenizer or model dir (`slmscale "
                                   "model extend`; holds speech_vocab.json)."),
    out: Path = typer.Option(..., "--out", help="Shards directory to write (modality 'interleaved')."),
    speech_ratio: float = typer.Option(0.3, "--speech-ratio", help="Share of an utterance's words spoken."),
    span_lambda: float = typer.Option(10.0, "--span-lambda", help="Poisson mean of a speech span, in words."),
    mix: str = typer.Option("0.2,0.54,0.25", "--mix", help="Token shares text,interleaved,speech "
                            "(normalised to sum 1)."),
    time_rule: str = typer.Option("midpoint", "--time-rule", help="A unit's time: midpoint | start of its "
                                  "frames."),
    no_marks: bool = typer.Option(False, "--no-single-modality-marks", help="Do not start text-only / "
                                  "speech-only documents with <text> / <speech>."),
    extra_text: Optional[Path] = typer.Option(None, "--extra-text", help="Text file: one extra text-only "
                                              "training document per non-empty line."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice (spans, mix, order)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Encoding processes when --units is a "
                                          "speech tokenizer."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Build interleaved speech-text shards: text-only, interleaved and speech-only documents mixed by
    token share, with the extended tokenizer's ids (see docs/interleaved.md)."""
    from slmscale.config import validate
    from slmscale.data.interleave import InterleaveConfig, build_interleaved_shards
    from slmscale.progress import info

    if not manifest.is_file():
        raise UserError(f"--manifest {manifest}: not found")
    if not (tokenizer / "speech_vocab.json").is_file():
        raise UserError(f"--tokenizer {tokenizer}: no speech_vocab.json; make it with `slmscale model extend`")
    cfg = validate(InterleaveConfig, {"speech_ratio": speech_ratio, "span_lambda": span_lambda,
                                      "mix": parse_mix(mix), "time_rule": time_rule,
                                      "mark_single_modality": not no_marks, "seed": seed},
                   "data interleave options")
    extra = None
    if extra_text is not None:
        if not extra_text.is_file():
            raise UserError(f"--extra-text {extra_text}: not found")
        extra = [line.strip() for line in extra_text.read_text(encoding="utf-8").splitlines() if line.strip()]
    unit_shards = resolve_units(units, manifest, out, workers, force)
    meta = build_interleaved_shards(manifest, unit_shards, tokenizer, out, cfg, extra_texts=extra, force=force)
    train = meta["streams"]["train"]
    shares = " / ".join(f"{s} {train['stream_share'][s]:.3f}" for s in ("text", "interleaved", "speech"))
    info(f"{out}: {meta['documents']} documents, {meta['tokens']:,} tokens; train shares {shares}; "
         f"speech tokens {meta['speech_token_share']:.3f} of train tokens, speech words "
         f"{meta['speech_word_share']:.3f}; {meta['skipped']} utterance(s) skipped")
    for uid, why in list(meta.get("skipped_reasons", {}).items())[:10]:
        info(f"skipped {uid}: {why}")


def register(app: typer.Typer) -> None:
    """Add `interleave` to the `data` sub-app."""
    app.command("interleave")(interleave_cmd)
