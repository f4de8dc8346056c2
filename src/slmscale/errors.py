"""Errors meant for the user: the CLI prints them as one line, no traceback."""


class UserError(Exception):
    """An expected bad input: say what, where, and what to do, in one line."""

    exit_code = 2


class StageSkipped(Exception):
    """Raised by a stage that found nothing to do (e.g. every input was bad)."""
