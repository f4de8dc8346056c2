"""Read real text corpora: plain text (one story per blank-line-separated paragraph) or JSONL.

JSONL is recognised by the `.jsonl` / `.json` suffix, or by a first non-blank line that starts
with `{`. Each JSONL line must be an object with a string `text` field (TinyStories layout). A file
whose content starts with `[` is read as one JSON array of such objects (the raw TinyStories `.json`
files, whose field is `story`, are accepted too).
Whitespace inside a story is collapsed to single spaces; empty stories are dropped (and counted
by `read_texts_counted`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from slmscale.errors import UserError

_SPACES = re.compile(r"\s+")
# A sentence ends at . ! or ? (optionally followed by a closing quote) before whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"\u201d']?\s+")


def clean_text(text: str) -> str:
    """Collapse runs of whitespace (newlines, tabs, non-breaking spaces) into single spaces."""
    return _SPACES.sub(" ", text.replace("\u00a0", " ")).strip()


def split_sentences(text: str) -> list[str]:
    """A cleaned story cut into sentences (for the no-story corpus); text without an end mark is
    one sentence."""
    out, start = [], 0
    text = clean_text(text)
    for m in _SENTENCE_END.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        out.append(text[start:end])
        start = m.end()
    if text[start:]:
        out.append(text[start:])
    return out


def _looks_like_jsonl(path: Path, lines: list[str]) -> bool:
    if path.suffix.lower() in (".jsonl", ".json"):
        return True
    first = next((ln for ln in lines if ln.strip()), "")
    return first.lstrip().startswith("{")


def _read_jsonl(path: Path, lines: list[str]) -> tuple[list[str], int]:
    texts, empty = [], 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg}); expected one object per line "
                            "with a \"text\" field") from None
        if not isinstance(obj, dict) or "text" not in obj:
            raise UserError(f"{path}:{lineno}: JSON line has no \"text\" field; expected {{\"text\": \"...\"}}")
        if not isinstance(obj["text"], str):
            raise UserError(f"{path}:{lineno}: \"text\" must be a string, got {type(obj['text']).__name__}")
        text = clean_text(obj["text"])
        if text:
            texts.append(text)
        else:
            empty += 1
    return texts, empty


def _read_json_array(path: Path, content: str) -> tuple[list[str], int]:
    try:
        rows = json.loads(content)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(rows, list):
        raise UserError(f"{path}: expected a JSON array of objects with a \"text\" field")
    texts, empty = [], 0
    for i, row in enumerate(rows):
        field = "text" if isinstance(row, dict) and "text" in row else "story"
        if not isinstance(row, dict) or not isinstance(row.get(field), str):
            raise UserError(f"{path}: item {i} of the JSON array has no string \"text\" field")
        text = clean_text(row[field])
        if text:
            texts.append(text)
        else:
            empty += 1
    return texts, empty


def _read_paragraphs(lines: list[str]) -> list[str]:
    texts, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
        elif current:
            texts.append(clean_text(" ".join(current)))
            current = []
    return texts


def read_texts_counted(path: str | Path) -> tuple[list[str], int]:
    """Stories from `path`, and how many empty JSONL records were skipped."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: text file not found (give a .txt file with one story per paragraph "
                        "or a .jsonl file with a \"text\" field)")
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{lineno}: not UTF-8 text (byte {exc.start}); convert the file to UTF-8") from None
    lines = content.splitlines()
    if content.lstrip().startswith("["):
        texts, empty = _read_json_array(path, content)
    elif _looks_like_jsonl(path, lines):
        texts, empty = _read_jsonl(path, lines)
    else:
        texts, empty = _read_paragraphs(lines), 0
    if not texts:
        raise UserError(f"{path}: no stories found (the file is empty or holds only blank text)")
    return texts, empty


def read_texts(path: str | Path) -> list[str]:
    """Stories from a plain-text or TinyStories-style JSONL file, whitespace cleaned."""
    return read_texts_counted(path)[0]
