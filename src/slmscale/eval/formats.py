"""Benchmark folders: official ZeroSpeech 2021 / Spoken StoryCloze layouts and text JSONL.

One layout serves real and synthetic sets (the synthetic builder writes these same files):

  BENCH/lexical/<split>/*.wav + gold.csv     sWUGGY  id,filename,voice,frequency,word,phones,length,correct
  BENCH/syntactic/<split>/*.wav + gold.csv   sBLIMP  id,filename,voice,type,subtype,correct,transcription
  BENCH/sStoryCloze/ and BENCH/tStoryCloze/  pairs of wavs `<voice>/<id>_correct.wav` and
                                             `<voice>/<id>_incorrect.wav`, plus index.csv
                                             (id,voice,correct,incorrect[,kind]) when available
  <task folder>/text.jsonl                   text versions: sentence_good, sentence_bad (+ id,
                                             phenomenon/type, subtype, frequency, ...)
  <StoryCloze folder>/crossmodal/            cross-modal parts, read by eval/crossmodal.py (the
                                             pair readers here skip it)

In gold.csv, rows sharing (id, voice) form a pair: `correct` 1 rows against `correct` 0 rows.
A file named in the gold but absent, or present but not named, is an error listing both sides.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from slmscale.artifacts import iter_jsonl
from slmscale.errors import UserError
from slmscale.eval import tasks as _tasks
from slmscale.eval.tasks import canonical_task, task_parts  # noqa: F401  (readers and callers)

# Views of the task registry (slmscale.eval.tasks) in the shapes the readers here use.
TASKS = tuple(_tasks.names("speech"))
TEXT_TASKS = {b: _tasks.text_version(b) for b in TASKS}
CROSS_TASKS = {(t.benchmark, t.variant): t.name for t in _tasks.TASKS.values() if t.modality == "cross"}
EVAL_TASKS = tuple(_tasks.TASKS)
TASK_DIRS = {b: _tasks.TASKS[b].folder for b in TASKS}
CROSS_DIR = "crossmodal"  # inside a StoryCloze task folder
GOLD_COLUMNS = {
    "swuggy": ["id", "filename", "voice", "frequency", "word", "phones", "length", "correct"],
    "sblimp": ["id", "filename", "voice", "type", "subtype", "correct", "transcription"],
}
REQUIRED = ["id", "filename", "voice", "correct"]
INDEX_COLUMNS = ["id", "voice", "correct", "incorrect"]
TEXT_FILE = "text.jsonl"
# Group fields carried from the gold rows into the scores (breakdowns).
GROUP_FIELDS = {"swuggy": ("frequency",), "sblimp": ("type", "subtype"), "ssc": ("kind",), "tsc": ("kind",)}


@dataclass(frozen=True)
class Pair:
    """Correct item `good` against incorrect item `bad` (keys into Benchmark.audio/texts)."""

    pair_id: str
    voice: str
    good: str
    bad: str
    group: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # The correct item's text where the benchmark gives it (sWUGGY `word`, sBLIMP `transcription`,
    # a text pair's sentence): two folders drawn from one lexicon share words, so a comparison
    # pooled over folders resamples words, not pairs (eval.compare).
    text: str = field(default="", compare=False)


@dataclass
class Benchmark:
    task: str
    split: str
    source: Path
    pairs: list[Pair]
    audio: dict[str, Path] = field(default_factory=dict)  # key (filename w/o .wav) -> wav path
    texts: dict[str, str] = field(default_factory=dict)   # key -> text (text benchmarks)

    @property
    def modality(self) -> str:
        return "text" if self.texts else "audio"

    @property
    def keys(self) -> list[str]:
        return sorted(self.texts) if self.texts else sorted(self.audio)

    def voice_of(self) -> dict[str, str]:
        """Voice of each item key: its pair's voice, else the `<voice>/` folder the key names
        (story-cloze layouts), else "" (unknown)."""
        voices = {k: k.rpartition("/")[0].rpartition("/")[2] for k in self.keys}
        for p in self.pairs:
            voices[p.good] = voices[p.bad] = p.voice
        return voices


def frequency_band(value: str) -> str:
    """Numeric corpus frequencies (official gold) -> log bands; textual bands pass through."""
    value = (value or "").strip()
    try:
        f = float(value)
    except ValueError:
        return value
    if math.isnan(f) or f <= 0:
        return "oov"
    for hi, name in ((5, "1-5"), (20, "5-20"), (100, "20-100")):
        if f < hi:
            return name
    return "100+"


def _mismatch(folder: Path, missing: Iterable[str], extra: Iterable[str], what: str) -> None:
    missing, extra = sorted(missing), sorted(extra)
    if not missing and not extra:
        return

    def show(names: list[str]) -> str:
        head = ", ".join(names[:8])
        return head + (f", ... (+{len(names) - 8} more)" if len(names) > 8 else "")

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (in {what}, no wav): {show(missing)}")
    if extra:
        parts.append(f"{len(extra)} extra (wav not in {what}): {show(extra)}")
    raise UserError(f"{folder}: wavs and {what} disagree: " + "; ".join(parts)
                    + ". Re-extract or rebuild the benchmark folder")


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        lacking = [c for c in required if c not in cols]
        if lacking:
            raise UserError(f"{path}: missing column(s) {', '.join(lacking)} (has: {', '.join(cols)})")
        return list(reader)


def _correct_flag(path: Path, lineno: int, value: str) -> bool:
    v = (value or "").strip().lower()
    if v in ("1", "true", "1.0"):
        return True
    if v in ("0", "false", "0.0"):
        return False
    raise UserError(f"{path}:{lineno}: column 'correct' must be 1 or 0, got {value!r}")


def read_zerospeech(folder: str | Path, task: str, split: str = "") -> Benchmark:
    """Read a ZeroSpeech 2021 lexical/syntactic split folder (wavs + gold.csv)."""
    folder = Path(folder)
    gold = folder / "gold.csv"
    if not gold.is_file():
        raise UserError(f"{folder}: no gold.csv (the official test gold is not public: use the dev "
                        "split, or build a synthetic set with `slmscale synth bench`)")
    rows = _read_csv(gold, REQUIRED)
    wavs = {p.stem: p for p in folder.glob("*.wav")}
    seen: dict[str, int] = {}
    for n, r in enumerate(rows, 2):
        if r["filename"] in seen:
            raise UserError(f"{gold}:{n}: filename {r['filename']!r} repeats line {seen[r['filename']]}")
        seen[r["filename"]] = n
    _mismatch(folder, set(seen) - set(wavs), set(wavs) - set(seen), "gold.csv")

    groups: dict[tuple[str, str], tuple[list[dict], list[dict]]] = {}
    for n, r in enumerate(rows, 2):
        good, bad = groups.setdefault((r["id"], r["voice"]), ([], []))
        (good if _correct_flag(gold, n, r["correct"]) else bad).append(r)
    incomplete = sorted(f"{i}/{v}" for (i, v), (g, b) in groups.items() if not g or not b)
    if incomplete:
        raise UserError(f"{gold}: {len(incomplete)} (id, voice) group(s) lack a correct or an "
                        f"incorrect row: {', '.join(incomplete[:8])}")
    pairs = []
    for (pid, voice), (goods, bads) in sorted(groups.items()):
        group = {k: goods[0].get(k, "") or "" for k in GROUP_FIELDS[task] if k in goods[0]}
        if "frequency" in group:
            group["frequency"] = frequency_band(group["frequency"])
        text = (goods[0].get("word") or goods[0].get("transcription") or "").strip()
        for g in goods:
            for b in bads:
                pairs.append(Pair(pid, voice, g["filename"], b["filename"], group, text))
    return Benchmark(task=task, split=split or folder.name, source=folder, pairs=pairs,
                     audio={k: wavs[k] for k in seen})


def read_storycloze(folder: str | Path, task: str) -> Benchmark:
    """Read a Spoken StoryCloze folder: index.csv if present, else `*_correct/_incorrect.wav` pairs."""
    folder = Path(folder)
    # The cross-modal sub-folder (context / ending-only audio) is not part of the pair task.
    wav_keys = {p.relative_to(folder).with_suffix("").as_posix(): p for p in folder.rglob("*.wav")
                if p.relative_to(folder).parts[0] != CROSS_DIR}
    index = folder / "index.csv"
    pairs: list[Pair] = []
    if index.is_file():
        rows = _read_csv(index, INDEX_COLUMNS)
        named: set[str] = set()
        for r in rows:
            good, bad = (Path(r[c]).with_suffix("").as_posix() for c in ("correct", "incorrect"))
            named.update((good, bad))
            group = {k: r[k] for k in GROUP_FIELDS[task] if r.get(k)}
            pairs.append(Pair(r["id"], r["voice"], good, bad, group))
        _mismatch(folder, named - set(wav_keys), set(wav_keys) - named, "index.csv")
    else:
        stems: dict[str, dict[str, str]] = {}
        for key in wav_keys:
            for suffix in ("_correct", "_incorrect"):
                if key.endswith(suffix):
                    stems.setdefault(key[: -len(suffix)], {})[suffix] = key
        unpaired = sorted(set(wav_keys) - {k for d in stems.values() for k in d.values()})
        unpaired += sorted(next(iter(d.values())) for d in stems.values() if len(d) == 1)
        if unpaired:
            raise UserError(f"{folder}: {len(unpaired)} wav(s) without a *_correct/*_incorrect "
                            f"partner: {', '.join(unpaired[:8])}")
        for stem, d in sorted(stems.items()):
            voice, _, pid = stem.rpartition("/")
            pairs.append(Pair(pid, voice, d["_correct"], d["_incorrect"]))
    if not pairs:
        raise UserError(f"{folder}: no StoryCloze pairs found (expected index.csv or "
                        "<id>_correct.wav / <id>_incorrect.wav files)")
    used = {p.good for p in pairs} | {p.bad for p in pairs}
    return Benchmark(task=task, split=folder.name, source=folder, pairs=pairs,
                     audio={k: wav_keys[k] for k in sorted(used)})


def read_text_pairs(path: str | Path, task: str) -> Benchmark:
    """Text minimal pairs, BLiMP-style JSONL: sentence_good, sentence_bad, phenomenon/type, ..."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: text benchmark not found (expected a {TEXT_FILE} next to the audio)")
    pairs, texts = [], {}
    for n, rec in iter_jsonl(path):
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str)
                                                for k in ("sentence_good", "sentence_bad")):
            raise UserError(f"{path}:{n}: needs string fields sentence_good and sentence_bad")
        pid = str(rec.get("id", rec.get("pairID", n)))
        group = {"type": str(rec.get("phenomenon", rec.get("type", rec.get("linguistics_term", "")))),
                 "subtype": str(rec.get("subtype", rec.get("UID", ""))),
                 "frequency": str(rec.get("frequency", "")), "kind": str(rec.get("kind", ""))}
        group = {k: v for k, v in group.items() if v and k in GROUP_FIELDS[task]}
        if "frequency" in group:
            group["frequency"] = frequency_band(group["frequency"])
        good, bad = f"{pid}_good", f"{pid}_bad"
        if good in texts:
            raise UserError(f"{path}:{n}: id {pid!r} repeats")
        texts[good], texts[bad] = rec["sentence_good"], rec["sentence_bad"]
        pairs.append(Pair(pid, "text", good, bad, group, rec["sentence_good"].strip()))
    if not pairs:
        raise UserError(f"{path}: no pairs")
    return Benchmark(task=task, split=path.stem, source=path, pairs=pairs, texts=texts)


def locate(bench: str | Path, task: str, split: str = "dev") -> Path:
    """Find a task's folder under a benchmark root (or accept the folder itself)."""
    bench = Path(bench)
    if not bench.exists():
        raise UserError(f"{bench}: benchmark folder not found")
    sub = TASK_DIRS[task]
    if task in ("swuggy", "sblimp"):
        for cand in (bench / sub / split, bench / split, bench):
            if (cand / "gold.csv").is_file():
                return cand
        raise UserError(f"{bench}: no {sub}/{split}/gold.csv (nor {split}/gold.csv) for task {task}")
    for cand in (bench / sub, bench):
        if (cand / "index.csv").is_file() or any(cand.glob("*_correct.wav")) or any(cand.glob("*/*_correct.wav")):
            return cand
    raise UserError(f"{bench}: no {sub}/ StoryCloze pair folder for task {task}")


def locate_text(bench: str | Path, task: str) -> Path:
    bench = Path(bench)
    if bench.is_file():
        return bench
    for cand in (bench / TASK_DIRS[task] / TEXT_FILE, bench / TEXT_FILE):
        if cand.is_file():
            return cand
    raise UserError(f"{bench}: no {TASK_DIRS[task]}/{TEXT_FILE} for a text model on task {task}")


def load_benchmark(bench: str | Path, task: str, split: str = "dev", text: bool = False) -> Benchmark:
    task, variant = task_parts(task)
    text = text or variant == "text"
    if text:
        return read_text_pairs(locate_text(bench, task), task)
    folder = locate(bench, task, split)
    if task in ("swuggy", "sblimp"):
        return read_zerospeech(folder, task, split)
    return read_storycloze(folder, task)


# ---------------------------------------------------------------- writers (used by the builder)

def write_csv(path: str | Path, columns: list[str], rows: Iterable[dict[str, Any]]) -> None:
    from slmscale.artifacts import atomic_open

    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def write_text_pairs(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    from slmscale.artifacts import atomic_open

    with atomic_open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
