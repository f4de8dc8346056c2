"""CLI: `data_inspect` commands (filled in by that stage)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add these commands to the given (sub-)app."""
