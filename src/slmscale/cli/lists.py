"""Comma-separated option values (`--voices a,b`, `--task x,y`, `--steps 300,200`), parsed one way.

A flag left out is None, so the config's default applies. A flag given with no item in it
(`--voices ""`, `--voices ,`) is an error: an empty value never silently means the default.
"""

from __future__ import annotations

from typing import Optional

from slmscale.errors import UserError


def comma_list(text: Optional[str], flag: str) -> Optional[list[str]]:
    """'a, b,' -> ['a', 'b']; None when the flag was not given."""
    if text is None:
        return None
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise UserError(f"{flag} {text!r}: empty; give comma-separated values or leave the flag out")
    return items


def int_list(text: Optional[str], flag: str) -> Optional[list[int]]:
    """'300,200' -> [300, 200]; None when the flag was not given."""
    items = comma_list(text, flag)
    if items is None:
        return None
    try:
        return [int(item) for item in items]
    except ValueError:
        raise UserError(f"{flag} {text}: give integers separated by commas") from None
