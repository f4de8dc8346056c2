"""Entry point: assembles the per-stage command modules into one `slmscale` command.

Each module in this package exposes `register(app)`; heavy imports (torch, transformers) stay
inside command bodies so `slmscale --help` is instant.
"""

from __future__ import annotations

import sys

import typer

from slmscale import __version__
from slmscale.cli import bench, data, demo, eval, fit, model, study, synth, train, units
from slmscale.errors import UserError


def _flags_take_no_value() -> None:
    """typer 0.29's rich help labels on/off flags `<bool>`, as if they took a value (they refuse
    one); show no type for flags instead."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_flag_aware", False):
        return

    def display_type_rich(self, ctx):  # type: ignore[no-untyped-def]
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._flag_aware = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()

app = typer.Typer(
    name="slmscale",
    help="Train speech language models and measure how they scale.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (synth, data, units, model, train, eval, bench, fit, study, demo):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"slmscale {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Train speech language models and measure how they scale."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; expected user errors print one line and exit with their code.

    Standalone mode lets click/typer report usage errors (exit 2) itself; only our own
    `UserError` needs catching here.
    """
    try:
        app(args=argv)
    except UserError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
