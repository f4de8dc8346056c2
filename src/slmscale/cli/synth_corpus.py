"""CLI: `slmscale synth corpus` — a spoken story corpus with word timings, from espeak-ng."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def corpus_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder (audio/, manifest.jsonl, meta.json)."),
    hours: Optional[float] = typer.Option(None, "--hours", help="Keep adding stories until this much audio."),
    stories: Optional[int] = typer.Option(None, "--stories", help="Exactly this many stories."),
    voices: Optional[str] = typer.Option(None, "--voices",
                                         help="Comma-separated voice names (default: the train voices; "
                                              "see `slmscale synth voices`)."),
    text: Optional[Path] = typer.Option(None, "--text", help="Speak these stories instead of generated "
                                        "ones: plain text (one per paragraph) or JSONL with a \"text\" field."),
    seed: int = typer.Option(0, "--seed", help="Seed for stories, voice choice and the valid split."),
    valid_fraction: float = typer.Option(0.05, "--valid-fraction", help="Share of stories marked valid."),
    no_story: bool = typer.Option(False, "--no-story",
                                  help="Same sentences without story structure: shuffled across stories "
                                       "(blocks of 64, seeded), same ids, voices and splits (the "
                                       "control arm for the synthetic-stories finding)."),
    voices_per_story: int = typer.Option(1, "--voices-per-story",
                                         help="Speak each story in this many different voices (a parallel "
                                              "corpus for `units pretrain --cross-voice`; --hours counts all "
                                              "renditions)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Synthesis processes (default: all cores)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Synthesise a spoken corpus: each story spoken by one seeded voice (or N), 16 kHz mono, word timings."""
    from slmscale.audio.corpus import CorpusConfig, build_corpus
    from slmscale.cli.lists import comma_list
    from slmscale.config import validate
    from slmscale.errors import UserError

    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    if hours is not None and stories is not None:
        raise UserError("give --hours or --stories, not both")
    if hours is None and stories is None and text is None:
        raise UserError("give --hours H or --stories N (or --text FILE to speak a whole file)")
    data = {"hours": hours, "stories": stories, "text": None if text is None else str(text), "seed": seed,
            "valid_fraction": valid_fraction, "no_story": no_story,
            "voices_per_story": voices_per_story}
    if voices is not None:
        data["voices"] = comma_list(voices, "--voices")  # the config expands and checks them
    cfg = validate(CorpusConfig, data, "synth corpus options")
    build_corpus(cfg, out, workers=workers, force=force)


def voices_cmd() -> None:
    """List the synthetic voices and their train/test split."""
    from slmscale.audio.voices import VOICES

    for v in VOICES.values():
        typer.echo(f"{v.name:<10} {v.split:<12} {v.espeak:<20} rate {v.rate:<3} pitch {v.pitch:<3} "
                   f"range {v.pitch_range:<3} {v.accent}")


def say_cmd(
    text: str = typer.Argument(..., help="Text to speak."),
    voice: str = typer.Option("us-f1", "--voice", help="Voice name (see `slmscale synth voices`)."),
    out: Path = typer.Option(..., "--out", help="WAV file to write (16 kHz mono PCM-16)."),
) -> None:
    """Speak one text to a wav file and print its word timings as JSON lines."""
    import json

    import soundfile as sf

    from slmscale.artifacts import atomic_open
    from slmscale.audio.tts import synthesize

    wav, words = synthesize(text, voice)
    with atomic_open(out, "wb") as fh:
        sf.write(fh, wav, 16000, subtype="PCM_16", format="WAV")
    for word, start, end in words:
        typer.echo(json.dumps([word, start, end]))


def register(app: typer.Typer) -> None:
    """Add `corpus`, `voices` and `say` to the `synth` sub-app."""
    app.command("corpus")(corpus_cmd)
    app.command("voices")(voices_cmd)
    app.command("say")(say_cmd)
