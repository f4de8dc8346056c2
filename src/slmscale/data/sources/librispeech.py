"""Manifest from a LibriSpeech-layout folder.

Layout: <root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac plus one
<speaker>-<chapter>.trans.txt per chapter holding lines "<utterance id> <TRANSCRIPT>".
voice = speaker id; manifest split = "valid" for dev-* splits, "test" for test-*, else "train".
Utterances without audio, audio without a transcript line and malformed transcript lines are
skipped with a reason.
"""

from __future__ import annotations

from pathlib import Path

from slmscale.data.sources.common import (AUDIO_SUFFIXES, BuildResult, Candidate, Skip, find_alignment,
                                          finish_manifest, listing_hash, up_to_date)
from slmscale.errors import UserError
from slmscale.progress import say

KIND = "manifest-librispeech"


def split_role(split: str) -> str:
    s = split.lower()
    return "valid" if s.startswith("dev") else "test" if s.startswith("test") else "train"


def _read_transcripts(path: Path, skipped: list[Skip], root: Path) -> dict[str, str]:
    prefix = path.name.removesuffix(".trans.txt")
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        skipped.append(Skip(path.relative_to(root).as_posix(), f"unreadable transcript file ({err})"))
        return out
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        uid, _, text = line.strip().partition(" ")
        where = f"{path.relative_to(root).as_posix()}:{n}"
        if not text.strip():
            skipped.append(Skip(where, f"transcript line for {uid!r} has no text"))
        elif not uid.startswith(prefix + "-"):
            skipped.append(Skip(where, f"utterance id {uid!r} does not belong to chapter {prefix}"))
        elif uid in out:
            skipped.append(Skip(where, f"utterance id {uid!r} listed twice"))
        else:
            out[uid] = " ".join(text.split())
    return out


def build_librispeech_manifest(root: str | Path, split: str, out: str | Path, verify: bool = True,
                               alignments: str | Path | None = None, workers: int = 1,
                               force: bool = False) -> BuildResult:
    root, out = Path(root), Path(out)
    base = root / split
    if not base.is_dir():
        have = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise UserError(f"{base}: no such split folder" + (f" (found: {', '.join(have)})" if have else
                                                           f"; is {root} a LibriSpeech root?"))
    align_dir = Path(alignments) if alignments else None
    if align_dir is not None and not align_dir.is_dir():
        raise UserError(f"--alignments {align_dir}: not a folder")
    files = sorted(p for p in base.rglob("*") if p.is_file() or p.is_symlink())
    config = {"root": str(root.resolve()), "split": split, "verify": verify,
              "alignments": None if align_dir is None else str(align_dir.resolve())}
    align_files = sorted(align_dir.rglob("*")) if align_dir else []
    inputs = {"files": listing_hash(files + align_files)}
    from slmscale.artifacts import fingerprint

    if not force and (meta := up_to_date(out, fingerprint(KIND, config, inputs))) is not None:
        say(f"{out}: up to date ({meta['utterances']} utterances); nothing to do")
        return BuildResult(meta=meta)
    skipped: list[Skip] = []
    transcripts: dict[str, str] = {}
    for t in (f for f in files if f.name.endswith(".trans.txt")):
        transcripts.update(_read_transcripts(t, skipped, root))
    role = split_role(split)
    candidates: list[Candidate] = []
    have_audio: set[str] = set()
    for f in files:
        if f.name.endswith(".trans.txt"):
            continue
        rel = f.relative_to(root).as_posix()
        if f.suffix.lower() not in AUDIO_SUFFIXES:
            if f.suffix not in (".json", ".TextGrid", ".textgrid"):
                skipped.append(Skip(rel, f"not an audio file type ({f.suffix or 'no extension'})"))
            continue
        uid = f.stem
        parts = f.relative_to(base).parts
        if uid not in transcripts:
            skipped.append(Skip(rel, "no transcript line for this utterance"))
            continue
        have_audio.add(uid)
        voice = parts[0] if len(parts) >= 3 else uid.split("-")[0]
        candidates.append(Candidate(id=uid, audio=f, text=transcripts[uid], voice=voice, split=role,
                                    alignment=find_alignment(f, base, align_dir)))
    for uid in sorted(set(transcripts) - have_audio):
        skipped.append(Skip(uid, "listed in a transcript but no audio file found"))
    return finish_manifest(KIND, candidates, skipped, out, root, config, inputs, verify, workers)
