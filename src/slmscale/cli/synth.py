"""`slmscale synth …`: synthetic spoken corpora and benchmarks (no data needed)."""

from __future__ import annotations

import typer

synth_app = typer.Typer(help="Synthesise spoken corpora and benchmarks with espeak-ng.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from slmscale.cli import synth_bench, synth_corpus

    synth_corpus.register(synth_app)
    synth_bench.register(synth_app)
    app.add_typer(synth_app, name="synth")
