"""Manifest from any folder of audio files, with optional transcripts and word alignments.

- Audio: every file under the root with an audio extension (see AUDIO_SUFFIXES), recursively.
  id = path relative to the root without extension ("/" kept; with it when two files differ
  only by extension); voice = the first folder under
  the root ("" for files at the top); split = `split` for all.
- Transcripts: `<stem>.txt` beside the audio, or a TSV (`--transcripts FILE`) whose lines are
  "<relative path or id>\t<text>" (a first line "path\ttext"/"id\ttext" is a header).
- Alignments: `<stem>.json` (slamkit) or `<stem>.TextGrid` (MFA) beside the audio or under
  `--alignments DIR`. An unusable alignment keeps the audio, without words, and is reported.
- Other files are listed as ignored in the summary (meta "ignored").
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from slmscale.data.sources.common import (AUDIO_SUFFIXES, BuildResult, Candidate, Skip, find_alignment,
                                          finish_manifest, listing_hash, up_to_date)
from slmscale.errors import UserError
from slmscale.progress import say

KIND = "manifest-folder"
COMPANIONS = {".txt", ".json", ".textgrid", ".tsv"}


def read_transcript_tsv(path: Path, skipped: list[Skip]) -> dict[str, str]:
    """{relative path or id: text}; bad lines are skipped with their line number."""
    if not path.is_file():
        raise UserError(f"--transcripts {path}: file not found")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"--transcripts {path}: not UTF-8 text; convert it to UTF-8") from None
    out: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, sep, text = line.partition("\t")
        if n == 1 and key.strip().lower() in ("path", "id", "file", "filename") and sep:
            continue  # header
        if not sep or not key.strip():
            skipped.append(Skip(f"{path.name}:{n}", "transcript line is not '<path or id>\\t<text>'"))
            continue
        out[Path(key.strip()).as_posix()] = " ".join(text.split())
    return out


def _read_txt(path: Path) -> str | None:
    try:
        return " ".join(path.read_text(encoding="utf-8-sig").split())
    except (OSError, UnicodeDecodeError):
        return None


def printable(name: str) -> str:
    """A file name as UTF-8 text: bytes that are not UTF-8 shown as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be read as a file (None when it resolves)."""
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "symbolic link loop"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        if err.errno == errno.ENOENT:
            return "file not found (broken symbolic link: its target does not exist)"
        return f"unreadable symbolic link ({err.strerror or err})"
    return None


def list_files(root: Path, out_abs: Path, skipped: list[Skip]) -> list[Path]:
    """Every file under `root` (symlinked folders are not followed, so loops cannot recurse).

    Files that cannot go into a manifest are left out and listed in `skipped` with the true
    reason: audio whose name is not UTF-8 (manifests are UTF-8 text), symbolic link loops and
    broken links, unreadable folders. Non-audio names are kept (they are only counted as ignored).
    """
    found: list[Path] = []

    def unreadable(err: OSError) -> None:
        where = Path(err.filename) if err.filename else root
        skipped.append(Skip(printable(_rel_posix(where, root)), f"folder not readable ({err.strerror or err})"))

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        base = Path(folder)
        dirs.sort()
        candidates = [base / n for n in names] + [base / d for d in dirs
                                                    if Path(d).suffix.lower() in AUDIO_SUFFIXES]
        for p in candidates:
            if p.name.endswith(".meta.json"):
                continue
            rel = _rel_posix(p, root)
            is_audio = p.suffix.lower() in AUDIO_SUFFIXES
            if p.is_symlink() and (why := _link_problem(p)) is not None:
                if is_audio or why == "symbolic link loop":
                    skipped.append(Skip(printable(rel), why))
                continue
            try:
                p.name.encode("utf-8")
            except UnicodeEncodeError:
                if is_audio:
                    skipped.append(Skip(printable(rel), "file name is not valid UTF-8; rename the file "
                                                        "(manifests store names as UTF-8 text)"))
                continue
            if p.resolve() != out_abs:
                found.append(p)
    return sorted(found)


def _rel_posix(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def build_folder_manifest(root: str | Path, out: str | Path, transcripts: str | Path | None = None,
                          alignments: str | Path | None = None, split: str = "train",
                          verify: bool = True, workers: int = 1, force: bool = False) -> BuildResult:
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise UserError(f"--root {root}: not a folder")
    if split not in ("train", "valid", "test"):
        raise UserError(f"--split {split}: use train, valid or test")
    align_dir = Path(alignments) if alignments else None
    if align_dir is not None and not align_dir.is_dir():
        raise UserError(f"--alignments {align_dir}: not a folder")
    listing_skips: list[Skip] = []
    files = list_files(root, out.resolve(), listing_skips)
    tsv = Path(transcripts) if transcripts else None
    config = {"root": str(root.resolve()), "split": split, "verify": verify,
              "transcripts": None if tsv is None else str(tsv.resolve()),
              "alignments": None if align_dir is None else str(align_dir.resolve())}
    extra = ([tsv] if tsv else []) + (sorted(align_dir.rglob("*")) if align_dir else [])
    inputs = {"files": listing_hash(files + extra)}
    from slmscale.artifacts import fingerprint

    if not force and (meta := up_to_date(out, fingerprint(KIND, config, inputs))) is not None:
        say(f"{out}: up to date ({meta['utterances']} utterances); nothing to do")
        return BuildResult(meta=meta)
    skipped: list[Skip] = list(listing_skips)
    table = read_transcript_tsv(tsv, skipped) if tsv else {}
    candidates: list[Candidate] = []
    ignored: list[str] = []
    stems: dict[str, int] = {}
    for f in files:
        if f.suffix.lower() in AUDIO_SUFFIXES:
            key = f.relative_to(root).with_suffix("").as_posix()
            stems[key] = stems.get(key, 0) + 1
    for f in files:
        rel = f.relative_to(root)
        if f.suffix.lower() not in AUDIO_SUFFIXES:
            if f.suffix.lower() not in COMPANIONS:
                ignored.append(rel.as_posix())
            continue
        uid = rel.with_suffix("").as_posix()
        if stems[uid] > 1:  # a.wav and a.flac: keep the extension so ids stay unique
            uid = rel.as_posix()
        text = table.get(rel.as_posix(), table.get(uid))
        if text is None and (f.with_suffix(".txt")).is_file():
            text = _read_txt(f.with_suffix(".txt"))
            if text is None:
                skipped.append(Skip(rel.with_suffix(".txt").as_posix(), "transcript is not readable UTF-8 "
                                    "text; audio kept without text"))
        voice = rel.parts[0] if len(rel.parts) > 1 else ""
        candidates.append(Candidate(id=uid, audio=f, text=text or "", voice=voice, split=split,
                                    alignment=find_alignment(f, root, align_dir)))
    known = {c.audio.relative_to(root).as_posix() for c in candidates} | {c.id for c in candidates}
    for key in sorted(set(table) - known):
        skipped.append(Skip(key, "listed in the transcripts file but no audio file found"))
    res = finish_manifest(KIND, candidates, skipped, out, root, config, inputs, verify, workers)
    if ignored:
        say(f"  ignored {len(ignored)} non-audio files (e.g. {ignored[0]})")
        res.meta["ignored"] = ignored
        from slmscale.artifacts import write_json
        from slmscale.data.sources.common import meta_path

        write_json(meta_path(out), res.meta)
    return res
