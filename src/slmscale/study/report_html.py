"""HTML building blocks of the study report: escaped tables, numbers with intervals, embedded
figures. Layout only: every number and figure comes from the fits document and slmscale.scaling."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

esc = html.escape


def num(v: Any, digits: int = 4) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return "–"
        return f"{v:.{digits}g}" if isinstance(v, float) else f"{v:,}" if abs(v) >= 10_000 else str(v)
    return str(v)


def table(header: list[str], body: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{esc(num(v))}</td>" for v in r) + "</tr>" for r in body)
    return f"<table{f' class={cls!r}' if cls else ''}><tr>{head}</tr>{rows}</table>"


def with_ci(rec: dict, key: str, digits: int = 4) -> str:
    """`value [lo, hi]` from a fit record's `ci` (blank interval when the bootstrap was off)."""
    v = rec.get(key)
    if v is None:
        return ""
    ci = (rec.get("ci") or {}).get(key)
    if ci and None not in ci[:2] and all(math.isfinite(x) for x in ci[:2]):
        return f"{num(v, digits)} [{ci[0]:.3g}, {ci[1]:.3g}]"
    return num(v, digits)


def figure(paths: list[Path], alt: str, caption: str, half: bool = False) -> str:
    """The PNG of a figure embedded (the report opens offline, alone) with its caption; the PNG
    and SVG files stay next to the report under figures/."""
    png = next(p for p in paths if p.suffix == ".png")
    data = base64.b64encode(png.read_bytes()).decode()
    files = ", ".join(f"figures/{p.name}" for p in paths)
    return (f'<figure{" class=half" if half else ""}><img alt="{esc(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)} <small>({esc(files)})</small></figcaption></figure>")


def note(text: str, cls: str = "note") -> str:
    return f"<p class='{cls}'><small>{esc(text)}</small></p>"


STYLE = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;"
         "padding:3px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%}"
         "figure{margin:1em 0}figure.half{display:inline-block;width:48%;margin-right:1%;vertical-align:top}figcaption{font-size:13px;color:#444}"
         "pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}.warn{color:#8a4b00}"
         ".lead{background:#fff6e5;border-left:4px solid #e0a030;padding:.5em 1em}")


def page(title: str, body: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
