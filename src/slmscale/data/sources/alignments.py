"""Word alignments from other tools: slamkit-style JSON and Montreal Forced Aligner TextGrids.

slamkit JSON: {"aligned_text": [[word, start, end], ...]} (seconds).
MFA TextGrid: the interval tier named "words" (any case); empty intervals and MFA's silence
markers ("<eps>", "sil", "sp", "spn") are pauses, not words.
A bad alignment raises `AlignmentError` with a one-line reason; the audio it belongs to stays usable.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from slmscale.errors import UserError

Word = tuple[str, float, float]
SILENCE = {"", "<eps>", "sil", "sp", "spn", "<unk>"}
TOLERANCE_S = 0.05  # alignments may overshoot the audio end by a frame or two


class AlignmentError(UserError):
    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path is not None else reason)


def read_slamkit_json(path: str | Path) -> list[Word]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AlignmentError("alignment JSON is not UTF-8 text", path) from None
    except json.JSONDecodeError as err:
        raise AlignmentError(f"alignment is not valid JSON ({err.msg} at line {err.lineno})", path) from None
    if not isinstance(data, dict) or "aligned_text" not in data:
        raise AlignmentError('alignment JSON has no "aligned_text" list', path)
    rows = data["aligned_text"]
    if not isinstance(rows, list):
        raise AlignmentError('"aligned_text" is not a list', path)
    words: list[Word] = []
    for i, row in enumerate(rows):
        if (not isinstance(row, (list, tuple)) or len(row) != 3 or not isinstance(row[0], str)
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in row[1:])):
            raise AlignmentError(f"aligned_text[{i}] is not [word, start, end]", path)
        words.append((row[0], float(row[1]), float(row[2])))
    return words


def read_textgrid(path: str | Path, tier: str = "words") -> list[Word]:
    from praatio import textgrid

    path = Path(path)
    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="silence",
                                   duplicateNamesMode="rename")
    except Exception as err:  # praatio raises many types for malformed files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise AlignmentError(f"not a readable TextGrid ({first[:80]})", path) from None
    names = {name.lower(): name for name in tg.tierNames}
    if tier.lower() not in names:
        raise AlignmentError(f"TextGrid has no {tier!r} tier (tiers: {', '.join(tg.tierNames) or 'none'})", path)
    found = tg.getTier(names[tier.lower()])
    if not hasattr(found, "entries") or found.entries and len(found.entries[0]) != 3:
        raise AlignmentError(f"TextGrid tier {tier!r} is not an interval tier", path)
    return [(label.strip(), float(start), float(end)) for start, end, label in found.entries
            if label.strip().lower() not in SILENCE]


def read_alignment(path: str | Path) -> list[Word]:
    """Words from a `.json` (slamkit) or `.TextGrid` (MFA) file."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_slamkit_json(path)
    if path.suffix.lower() == ".textgrid":
        return read_textgrid(path)
    raise AlignmentError(f"unknown alignment type {path.suffix!r} (use .json or .TextGrid)", path)


def check_words(words: list[Word], duration: float, path: str | Path | None = None) -> list[Word]:
    """Times finite, start <= end, in order, inside the audio; returns them rounded to 0.1 ms."""
    prev = -math.inf
    for word, start, end in words:
        if not (math.isfinite(start) and math.isfinite(end)):
            raise AlignmentError(f"word {word!r} has a non-finite time", path)
        if start < 0 or end < start:
            raise AlignmentError(f"word {word!r} has bad times ({start}, {end})", path)
        if start < prev - 1e-6:
            raise AlignmentError(f"word {word!r} starts at {start} before the previous word", path)
        if end > duration + TOLERANCE_S:
            raise AlignmentError(f"word {word!r} ends at {end:.3f} s, after the audio ({duration:.3f} s)", path)
        prev = start
    return [(w, round(s, 4), round(min(e, duration), 4)) for w, s, e in words]
