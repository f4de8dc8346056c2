"""`slmscale data …`: manifests from real audio, interleaved speech-text shards, shard inspection."""

from __future__ import annotations

import typer

data_app = typer.Typer(help="Build manifests from real audio; interleaved speech-text shards; inspect "
                            "token shards; import/export units (slamkit, textlesslib, datasets).",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from slmscale.cli import data_import_export, data_inspect, data_interleave, data_manifest

    data_manifest.register(data_app)
    data_interleave.register(data_app)
    data_inspect.register(data_app)
    data_import_export.register(data_app)
    app.add_typer(data_app, name="data")
