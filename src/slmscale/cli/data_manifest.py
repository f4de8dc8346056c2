"""CLI: `slmscale data manifest librispeech|folder` — manifests from real audio."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

manifest_app = typer.Typer(help="Build an utterance manifest from real audio (LibriSpeech layout or "
                                "any folder).", no_args_is_help=True)

_VERIFY = typer.Option(True, "--verify/--no-verify",
                       help="Decode every file fully (streamed) to catch corrupt audio; "
                            "--no-verify reads headers only.")
_WORKERS = typer.Option(None, "--workers", help="Processes checking audio in parallel (default: all cores).")
_FORCE = typer.Option(False, "--force", help="Rebuild even when the cache says up to date.")
_ALIGN = typer.Option(None, "--alignments", help="Folder of word alignments (<id>.json slamkit or "
                                                 "<id>.TextGrid MFA), mirroring the audio layout or flat.")


@manifest_app.command("librispeech")
def librispeech_cmd(
    root: Path = typer.Option(..., "--root", help="LibriSpeech root (holds train-clean-100/, dev-clean/, ...)."),
    split: str = typer.Option(..., "--split", help="Split folder name, e.g. train-clean-100 or dev-clean."),
    out: Path = typer.Option(..., "--out", help="Manifest to write (JSONL); summary goes to <name>.meta.json."),
    alignments: Optional[Path] = _ALIGN,
    verify: bool = _VERIFY,
    workers: Optional[int] = _WORKERS,
    force: bool = _FORCE,
) -> None:
    """Manifest of one LibriSpeech split: transcripts from *.trans.txt, voice = speaker."""
    from slmscale.data.sources import build_librispeech_manifest

    build_librispeech_manifest(root, split, out, verify=verify, alignments=alignments,
                               workers=_check_workers(workers), force=force)


@manifest_app.command("folder")
def folder_cmd(
    root: Path = typer.Option(..., "--root", help="Folder of audio files (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Manifest to write (JSONL); summary goes to <name>.meta.json."),
    transcripts: Optional[Path] = typer.Option(None, "--transcripts",
                                               help="TSV of '<relative path or id>\\t<text>' "
                                                    "(default: <name>.txt beside each audio file)."),
    alignments: Optional[Path] = _ALIGN,
    split: str = typer.Option("train", "--split", help="Split for every utterance: train, valid or test."),
    verify: bool = _VERIFY,
    workers: Optional[int] = _WORKERS,
    force: bool = _FORCE,
) -> None:
    """Manifest of any folder of audio; bad files are skipped and listed with their reason."""
    from slmscale.data.sources import build_folder_manifest

    build_folder_manifest(root, out, transcripts=transcripts, alignments=alignments, split=split,
                          verify=verify, workers=_check_workers(workers), force=force)


def _check_workers(workers: int | None) -> int:
    from slmscale.cpus import usable_cpus
    from slmscale.errors import UserError

    if workers is None:
        return usable_cpus()
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    return workers


def register(app: typer.Typer) -> None:
    """Add `manifest librispeech|folder` to the `data` sub-app."""
    app.add_typer(manifest_app, name="manifest")
