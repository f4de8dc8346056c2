"""ZeroSpeech 2021 submission files: one `<filename-without-extension> <score>` line per utterance.

The official kit expects `lexical/<split>.txt` and `syntactic/<split>.txt` inside a submission
folder; `evaluate_run` writes `RUN/eval/<task>/<split>.txt` in the same line format (copy or link
those files into such a folder to run the official evaluation).
"""

from __future__ import annotations

import math
from pathlib import Path

from slmscale.artifacts import atomic_write_text
from slmscale.errors import UserError


def format_submission(scores: dict[str, float]) -> str:
    lines = []
    for name in sorted(scores):
        if any(c.isspace() for c in name):
            raise ValueError(f"utterance name {name!r} contains whitespace")
        score = float(scores[name])
        if math.isnan(score):
            raise ValueError(f"utterance {name!r} has a NaN score")
        lines.append(f"{name} {score!r}")  # repr: shortest text that round-trips exactly
    return "\n".join(lines) + "\n"


def write_submission(path: str | Path, scores: dict[str, float]) -> None:
    atomic_write_text(path, format_submission(scores))


def read_submission(path: str | Path) -> dict[str, float]:
    path = Path(path)
    out: dict[str, float] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise UserError(f"{path}:{n}: expected '<filename> <score>', got {line.strip()!r}")
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                raise UserError(f"{path}:{n}: score {parts[1]!r} is not a number") from None
    return out
