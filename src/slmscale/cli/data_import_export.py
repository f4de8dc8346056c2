"""`slmscale data import SOURCE --out SHARDS` and `slmscale data export SHARDS --out DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from slmscale.errors import UserError


def import_cmd(
    source: Path = typer.Argument(..., help="Unit file (JSON lines or ID|units text) or a datasets folder."),
    out: Path = typer.Option(..., "--out", help="Shards directory to write."),
    fmt: str = typer.Option("auto", "--format", help="auto, jsonl (slamkit), text (ID|units, ID<TAB>units) or hf."),
    column: Optional[str] = typer.Option(None, "--column", help="Units field (default: units, audio_repr, ...)."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Id field (default: id, file_name, ...)."),
    k: Optional[int] = typer.Option(None, "--k", help="Number of units (default: largest id + 1)."),
    dedup: bool = typer.Option(False, "--dedup", help="Collapse repeated units (frame-level input); keeps durations."),
    frame_rate: Optional[float] = typer.Option(None, "--frame-rate", help="Units per second before dedup (recorded)."),
    valid_fraction: float = typer.Option(0.02, "--valid-fraction",
                                         help="Share of documents without a split that go to 'valid' (seeded)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the validation split."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Import unit sequences made by other tools (slamkit, textlesslib/fairseq, datasets) as shards."""
    from slmscale.data.interop import import_units

    if fmt not in ("auto", "jsonl", "text", "hf"):
        raise UserError(f"--format {fmt}: choose auto, jsonl, text or hf")
    if not 0.0 <= valid_fraction <= 0.5:
        raise UserError(f"--valid-fraction {valid_fraction}: must be between 0 and 0.5")
    if k is not None and not 2 <= k <= 65534:
        raise UserError(f"--k {k}: must be between 2 and 65534")
    import_units(source, out, fmt=fmt, column=column, id_column=id_column, k=k, dedup=dedup,
                 frame_rate=frame_rate, valid_fraction=valid_fraction, seed=seed, force=force)


def export_cmd(
    shards: Path = typer.Argument(..., help="Unit shards directory."),
    out: Path = typer.Option(..., "--out", help="Folder for the dataset (datasets.load_from_disk reads it)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the cache says up to date."),
) -> None:
    """Write unit shards as a Hugging Face `datasets` dataset (one row per document)."""
    from slmscale.data.interop import export_shards

    export_shards(shards, out, force=force)


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("export")(export_cmd)
