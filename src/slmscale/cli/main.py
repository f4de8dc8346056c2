"""Entry point: assembles the per-stage command modules into one `slmscale` command.

Each module in this package exposes `register(app)`; heavy imports (torch, transformers) stay
inside command bodies so `slmscale --help` is instant.
"""

from __future__ import annotations

import sys
import traceback

import typer

from slmscale import __version__
from slmscale.cli import bench, data, demo, eval, fit, model, study, synth, train, units
from slmscale.errors import EXIT_BUG, EXIT_INTERRUPTED, REPORT_HINT, explain


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
    """Run the CLI behind one error boundary (also for `python -m slmscale.cli.main`).

    Anticipated failures (our `UserError`, no space / read-only / permission / missing path,
    damaged safetensors or JSON, a held lock) print one `error: ...` line and exit with their
    code (2, or 3 for a diverged run); Ctrl-C exits 130 (rerun to resume); anything else is a
    bug: its traceback, a line asking to report it, exit 1. Click reports usage errors (exit 2).
    """
    from typer.exceptions import TyperException

    try:
        # Without standalone mode typer returns the code of a `typer.Exit` (e.g. --version) and
        # turns Ctrl-C into 130; commands themselves return None.
        returned = app(args=argv, standalone_mode=False)
        code = returned if type(returned) is int else 0
        if code == EXIT_INTERRUPTED:
            code = _report(KeyboardInterrupt())
    except typer.Exit as done:
        code = done.exit_code
    except typer.Abort as abort:  # typer turns Ctrl-C into Abort
        code = _report(abort.__context__ or KeyboardInterrupt())
    except TyperException as usage:  # bad option, unknown command, missing argument
        usage.show()  # type: ignore[attr-defined]
        code = usage.exit_code
    except BaseException as err:  # noqa: BLE001 - this is the boundary
        if isinstance(err, SystemExit):
            raise
        code = _report(err)
    sys.exit(code)


def _report(err: BaseException) -> int:
    explained = explain(err)
    if explained is None:
        traceback.print_exception(err)
        typer.secho(f"error: {REPORT_HINT}", fg=typer.colors.RED, err=True)
        return EXIT_BUG
    message, code = explained
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return code


if __name__ == "__main__":
    main()
