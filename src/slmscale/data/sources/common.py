"""What every real-audio manifest builder shares: check each audio file, collect skips, write.

A builder lists candidate utterances (`Candidate`); `finish_manifest` checks the audio of each
(full streamed decode by default, header only with verify=False) in worker processes, attaches
alignments, skips bad files with a one-line reason, writes the manifest and its summary
`<manifest>.meta.json`, and prints the summary. Nothing is dropped without a line in `skipped`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmscale.artifacts import fingerprint, read_json, sha256_json, write_json
from slmscale.audio.io import AudioError, probe_audio, verify_audio
from slmscale.data.manifest import ManifestEntry, write_manifest
from slmscale.data.manifest import summary_path as meta_path
from slmscale.data.sources.alignments import AlignmentError, check_words, read_alignment
from slmscale.errors import UserError
from slmscale.progress import say, track

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64",
                  ".caf", ".rf64", ".wave", ".snd"}
ALIGN_SUFFIXES = (".json", ".TextGrid", ".textgrid")


@dataclass
class Candidate:
    id: str
    audio: Path  # absolute
    text: str = ""
    voice: str = ""
    split: str = "train"
    alignment: Path | None = None


@dataclass
class Skip:
    file: str
    reason: str


@dataclass
class BuildResult:
    entries: list[ManifestEntry] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    alignment_errors: list[Skip] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def listing_hash(files: list[Path]) -> str:
    """Identity of the inputs without reading them: path, size, mtime of each file."""
    rows = []
    for f in sorted(files):
        try:
            st = f.stat()
            rows.append([str(f), st.st_size, st.st_mtime_ns])
        except OSError:
            rows.append([str(f), None, None])
    return sha256_json(rows)


def up_to_date(manifest: Path, fp: str) -> dict | None:
    meta = meta_path(manifest)
    if manifest.is_file() and meta.is_file():
        try:
            data = read_json(meta)
        except UserError:
            return None
        if data.get("fingerprint") == fp:
            return data
    return None


def _check(args: tuple[Candidate, bool]) -> tuple[Candidate, Any, str | None, list, str | None]:
    """(candidate, AudioInfo | None, skip reason, words, alignment error) for one utterance."""
    cand, verify = args
    try:
        ainfo = verify_audio(cand.audio) if verify else probe_audio(cand.audio)
    except AudioError as err:
        return cand, None, err.reason, [], None
    except OSError as err:  # I/O errors while reading (e.g. a file vanishing mid-scan)
        return cand, None, f"unreadable ({err.strerror or err})", [], None
    words: list = []
    align_err = None
    if cand.alignment is not None:
        try:
            words = check_words(read_alignment(cand.alignment), ainfo.duration, cand.alignment)
        except AlignmentError as err:
            align_err = err.reason
        except OSError as err:
            align_err = f"unreadable alignment ({err.strerror or err})"
    return cand, ainfo, None, words, align_err


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def finish_manifest(kind: str, candidates: list[Candidate], pre_skipped: list[Skip], out: Path,
                    root: Path, config: dict, inputs: dict, verify: bool = True,
                    workers: int = 1) -> BuildResult:
    out = Path(out)
    res = BuildResult(skipped=list(pre_skipped))
    seen: set[str] = set()
    unique: list[Candidate] = []
    for c in candidates:
        if c.id in seen:
            res.skipped.append(Skip(_rel(c.audio, root), f"duplicate utterance id {c.id!r}"))
        else:
            seen.add(c.id)
            unique.append(c)
    jobs = [(c, verify) for c in unique]
    desc = "checking audio" if verify else "reading headers"
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            results = list(track(pool.map(_check, jobs, chunksize=16), desc, total=len(jobs)))
    else:
        results = list(track(map(_check, jobs), desc, total=len(jobs)))
    for cand, ainfo, reason, words, align_err in results:
        rel = _rel(cand.audio, root)
        if reason is not None:
            res.skipped.append(Skip(rel, reason))
            continue
        if align_err is not None:
            res.alignment_errors.append(Skip(_rel(cand.alignment, root), align_err))  # type: ignore[arg-type]
        res.entries.append(ManifestEntry(id=cand.id, audio=_rel(cand.audio, out.parent),
                                         duration=ainfo.duration, sample_rate=ainfo.sample_rate,
                                         text=cand.text, voice=cand.voice, split=cand.split, words=words))
    res.skipped.sort(key=lambda s: s.file)
    if not res.entries:
        _report(res, out, kind)
        raise UserError(f"{root}: no usable audio found ({len(res.skipped)} files skipped); "
                        "nothing written")
    write_manifest(out, res.entries)
    hours = sum(e.duration for e in res.entries) / 3600
    from slmscale import __version__
    import datetime as _dt

    res.meta = {"kind": kind, "version": __version__, "config": config, "inputs": inputs,
                "fingerprint": fingerprint(kind, config, inputs),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "manifest": out.name, "utterances": len(res.entries), "hours": round(hours, 6),
                "with_text": sum(1 for e in res.entries if e.text),
                "with_words": sum(1 for e in res.entries if e.words),
                "voices": len({e.voice for e in res.entries}),
                "skipped": [dataclasses.asdict(s) for s in res.skipped],
                "alignment_errors": [dataclasses.asdict(s) for s in res.alignment_errors]}
    write_json(meta_path(out), res.meta)
    _report(res, out, kind)
    return res


def _report(res: BuildResult, out: Path, kind: str) -> None:
    hours = sum(e.duration for e in res.entries) / 3600
    say(f"{out}: {len(res.entries)} utterances, {hours:.3f} h; skipped {len(res.skipped)} files"
         + (f"; {len(res.alignment_errors)} alignments unusable (kept without words)"
            if res.alignment_errors else ""))
    for s in res.skipped:
        say(f"  skipped {s.file}: {s.reason}")
    for s in res.alignment_errors:
        say(f"  alignment {s.file}: {s.reason}")


def find_alignment(audio: Path, root: Path, align_dir: Path | None) -> Path | None:
    """`<stem>.json` / `<stem>.TextGrid` beside the audio, or at the same relative place (or
    top level) under `align_dir`."""
    places = [audio.parent]
    if align_dir is not None:
        try:
            places.insert(0, align_dir / audio.parent.relative_to(root))
        except ValueError:
            pass
        places.append(align_dir)
    for place in places:
        for suffix in ALIGN_SUFFIXES:
            p = place / (audio.stem + suffix)
            if p.is_file():
                return p
    return None
