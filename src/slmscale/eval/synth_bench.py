"""Synthetic benchmarks: TEXT's held-out items spoken by espeak-ng voices, in the official layouts.

`build_bench(config, out)` writes, for each task asked (see formats.py for the layouts):
  lexical/dev/ + gold.csv + lexical/text.jsonl          sWUGGY-like   (text.pairs.swuggy_pairs)
  syntactic/dev/ + gold.csv + syntactic/text.jsonl      sBLIMP-like   (text.pairs.sblimp_pairs)
  sStoryCloze/<voice>/<id>_(in)correct.wav + index.csv  (text.pairs.storycloze_items kind "s")
  sStoryCloze/crossmodal/<voice>/<id>_context.wav, <id>_ending_(in)correct.wav + index.csv
                                                        context and endings spoken apart (cross-modal)
  tStoryCloze/...                                       (kind "t")
Every item is spoken by every voice: the held-out TEST_VOICES by default (speakers never heard in
training), the first as many TRAIN_VOICES with `matched`, or an explicit list. sWUGGY/sBLIMP file
names are opaque hashes (as in ZeroSpeech, the name does not give the answer away). A pair whose
synthesis failed in one voice is dropped for that voice (both files), counted and listed in
meta.json. Each task folder gets its own meta.json; a task whose config is unchanged is skipped.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Optional

from pydantic import Field, field_validator

from slmscale.artifacts import fingerprint, is_fresh, write_meta
from slmscale.config import StrictModel
from slmscale.errors import UserError
from slmscale.eval.audit import AUDIT_FILE
from slmscale.eval.formats import (CROSS_DIR, GOLD_COLUMNS, TASK_DIRS, TEXT_FILE, task_parts, write_csv,
                                   write_text_pairs)
from slmscale.progress import info
from slmscale.text.phonemes import speakable

DEFAULT_N = {"swuggy": 300, "sblimp": 100, "ssc": 100, "tsc": 100}
SPLIT = "dev"
# Layout version per task, part of the cache fingerprint: a folder built by an older layout is
# rebuilt (2: StoryCloze folders gained crossmodal/; sWUGGY/sBLIMP 2, StoryCloze 3: the items of the
# audited builders, spoken sWUGGY phones, audit.json).
# 3/4: items chosen with their spoken length balanced as well.
LAYOUT = {"swuggy": 3, "sblimp": 3, "ssc": 4, "tsc": 4}
CROSS_COLUMNS = ["id", "voice", "context", "correct", "incorrect", "kind", "story_id"]


class BenchConfig(StrictModel):
    tasks: list[str] = Field(default_factory=lambda: ["swuggy", "sblimp", "ssc", "tsc"])
    voices: Optional[list[str]] = None  # None: TEST_VOICES, or TRAIN_VOICES[:len(TEST_VOICES)] if matched
    matched: bool = False
    n: Optional[int] = Field(default=None, ge=1)  # per task: pairs / pairs per phenomenon / stories
    seed: int = 0

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, tasks: list[str]) -> list[str]:
        out = []
        for t in tasks:
            c = task_parts(t)[0]  # a text or cross-modal task name builds its benchmark's folder
            if c not in out:
                out.append(c)
        return out

    @field_validator("voices")
    @classmethod
    def _voices(cls, voices: Optional[list[str]]) -> Optional[list[str]]:
        from slmscale.audio.voices import parse_voices

        return None if voices is None else parse_voices(voices)  # sets (test-speaker, ...) become voices


def resolve_voices(cfg: BenchConfig) -> list[str]:
    from slmscale.audio.voices import TEST_VOICES, TRAIN_VOICES

    if cfg.voices:
        return list(cfg.voices)
    return list(TRAIN_VOICES[:len(TEST_VOICES)]) if cfg.matched else list(TEST_VOICES)


def _opaque(seed: int, *parts: Any) -> str:
    return hashlib.sha256("/".join(map(str, (seed, *parts))).encode()).hexdigest()[:12]


def _zerospeech_rows(task: str, items: list[Any], voices: list[str], seed: int
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Gold rows (one per utterance) and text records (one per pair)."""
    rows, texts = [], []
    for it in items:
        if task == "swuggy":
            texts.append({"id": it.id, "sentence_good": it.word, "sentence_bad": it.nonword,
                          "frequency": it.frequency, "count": it.count, "length": it.length,
                          "phones_good": it.phones, "phones_bad": it.nonword_phones})
            spoken = ((1, it.word, it.frequency, it.phones), (0, it.nonword, "", it.nonword_phones))
        else:
            texts.append({"id": it.id, "sentence_good": it.good, "sentence_bad": it.bad,
                          "phenomenon": it.phenomenon, "subtype": it.subtype})
            spoken = ((1, it.good, "", ""), (0, it.bad, "", ""))
        for voice in voices:
            for correct, text, freq, phones in spoken:
                # sWUGGY items are spoken from their phones, so the audio is exactly the intended
                # sounds (the non-word has no spelling for espeak-ng to guess from)
                row = {"id": it.id, "filename": _opaque(seed, task, it.id, voice, correct), "voice": voice,
                       "correct": correct, "_text": speakable(phones.split()) if phones else text}
                if task == "swuggy":
                    row.update(frequency=freq, word=text, phones=phones, length=it.length)
                else:
                    row.update(type=it.phenomenon, subtype=it.subtype, transcription=text)
                rows.append(row)
    return rows, texts


def _cloze_rows(items: list[Any], voices: list[str]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Full-story pair rows, cross-modal rows (context and endings spoken apart) and text records."""
    rows, cross, texts = [], [], []
    for it in items:
        good = f"{it.context} {it.good_ending}"
        bad = f"{it.context} {it.bad_ending}"
        texts.append({"id": it.id, "sentence_good": good, "sentence_bad": bad, "kind": it.bad_kind,
                      "context": it.context, "good_ending": it.good_ending, "bad_ending": it.bad_ending,
                      "story_id": it.story_id, "schema": it.schema})
        for voice in voices:
            rows.append({"id": it.id, "voice": voice, "correct": f"{voice}/{it.id}_correct.wav",
                         "incorrect": f"{voice}/{it.id}_incorrect.wav", "kind": it.bad_kind,
                         "story_id": it.story_id, "_good": good, "_bad": bad})
            cross.append({"id": it.id, "voice": voice, "context": f"{voice}/{it.id}_context.wav",
                          "correct": f"{voice}/{it.id}_ending_correct.wav",
                          "incorrect": f"{voice}/{it.id}_ending_incorrect.wav", "kind": it.bad_kind,
                          "story_id": it.story_id, "_context": it.context, "_good": it.good_ending,
                          "_bad": it.bad_ending})
    return rows, cross, texts


def _items(task: str, n: int, seed: int, voices: list[str] | None) -> list[Any]:
    """The task's items, their spoken length in `voices` balanced along with the text baselines
    (None: the text baselines only)."""
    from slmscale.audio import durations
    from slmscale.text import pairs

    def timed(texts: Any) -> list[tuple[float, ...]]:
        return durations.spoken_seconds(texts, voices or [])

    seconds = timed if voices else None

    if task == "swuggy":
        return pairs.swuggy_pairs(n, seed, extended_homophones=True, seconds=seconds)
    if task == "sblimp":
        return pairs.sblimp_pairs(n, seed, seconds=seconds)
    return pairs.storycloze_items(n, seed, kind="s" if task == "ssc" else "t", seconds=seconds)


def sample_lines(cfg: BenchConfig, k: int) -> list[str]:
    """A seeded random sample of `k` items per task, one readable line each (for proofreading)."""
    import random

    lines = []
    voices = resolve_voices(cfg)
    for task in cfg.tasks:
        items = _items(task, cfg.n or DEFAULT_N[task], cfg.seed, voices)
        rng = random.Random(f"slmscale-show/{cfg.seed}/{task}")
        for it in sorted(rng.sample(items, min(k, len(items))), key=lambda x: x.id):
            if task == "swuggy":
                lines.append(f"{it.id}\t{it.frequency}\t{it.word} /{it.phones}/\t*/{it.nonword_phones}/")
            elif task == "sblimp":
                lines.append(f"{it.phenomenon}/{it.subtype}\t{it.good}\t*{it.bad}")
            else:
                lines.append(f"{it.id}\t{it.context} || {it.good_ending}\t*{it.bad_ending}")
    return lines


def build_task(task: str, cfg: BenchConfig, voices: list[str], out: Path, workers: int | None = None,
               force: bool = False) -> dict[str, Any]:
    """Build one task folder under `out`; returns its meta."""
    from slmscale.audio.tts import TTSItem, synthesize_many

    n = cfg.n or DEFAULT_N[task]
    folder = out / TASK_DIRS[task]
    task_cfg = {"task": task, "n": n, "seed": cfg.seed, "voices": voices, "split": SPLIT,
                "layout": LAYOUT[task]}
    if not force and is_fresh(folder, fingerprint("synthetic-bench", task_cfg)):
        info(f"{folder}: up to date, skipped")
        from slmscale.artifacts import read_meta

        return read_meta(folder)
    if folder.exists():
        shutil.rmtree(folder)  # stale wavs would disagree with the new gold
    items = _items(task, n, cfg.seed, voices)
    if task in ("swuggy", "sblimp"):
        rows, texts = _zerospeech_rows(task, items, voices, cfg.seed)
        audio_dir = folder / SPLIT
        tts = [TTSItem(r["filename"], r["_text"], r["voice"], f"{r['filename']}.wav") for r in rows]
    else:
        rows, cross, texts = _cloze_rows(items, voices)
        audio_dir = folder
        tts = [TTSItem(r[k][:-4], r[t], r["voice"], r[k])
               for r in rows for k, t in (("correct", "_good"), ("incorrect", "_bad"))]
        tts += [TTSItem(f"{CROSS_DIR}/{r[k][:-4]}", r[t], r["voice"], f"{CROSS_DIR}/{r[k]}")
                for r in cross for k, t in (("context", "_context"), ("correct", "_good"),
                                            ("incorrect", "_bad"))]
    _, skipped = synthesize_many(tts, audio_dir, workers=workers, split="test",
                                 description=f"speaking {task}")
    failed = {s.id for s in skipped}
    extra: dict[str, Any] = {}
    if task in ("swuggy", "sblimp"):
        bad_groups = {(r["id"], r["voice"]) for r in rows if r["filename"] in failed}
        kept = [r for r in rows if (r["id"], r["voice"]) not in bad_groups]
        for r in rows:
            if (r["id"], r["voice"]) in bad_groups:
                (audio_dir / f"{r['filename']}.wav").unlink(missing_ok=True)
        write_csv(audio_dir / "gold.csv", GOLD_COLUMNS[task], kept)
        dropped = sorted(f"{i}/{v}" for i, v in bad_groups)
    else:
        bad = [r for r in rows if r["correct"][:-4] in failed or r["incorrect"][:-4] in failed]
        for r in bad:
            for k in ("correct", "incorrect"):
                (audio_dir / r[k]).unlink(missing_ok=True)
        kept = [r for r in rows if r not in bad]
        write_csv(audio_dir / "index.csv", ["id", "voice", "correct", "incorrect", "kind", "story_id"], kept)
        dropped = sorted(f"{r['id']}/{r['voice']}" for r in bad)
        # Cross-modal rows need all three of their files; a row missing one is dropped alone.
        cross_dir = folder / CROSS_DIR
        cbad = [r for r in cross if any(f"{CROSS_DIR}/{r[k][:-4]}" in failed
                                        for k in ("context", "correct", "incorrect"))]
        for r in cbad:
            for k in ("context", "correct", "incorrect"):
                (cross_dir / r[k]).unlink(missing_ok=True)
        write_csv(cross_dir / "index.csv", CROSS_COLUMNS, [r for r in cross if r not in cbad])
        extra["dropped_crossmodal"] = sorted(f"{r['id']}/{r['voice']}" for r in cbad)
    write_text_pairs(folder / TEXT_FILE, texts)
    from slmscale.eval.audit import audit_task, dumps
    from slmscale.text.pairs import word_counts

    audit = audit_task(out, task, word_counts(cfg.seed), SPLIT)
    from slmscale.artifacts import atomic_write_text

    atomic_write_text(folder / AUDIT_FILE, dumps(audit))
    if audit is not None and not audit["within_bounds"]:
        info(f"{task}: a surface baseline is off chance by {audit['max_deviation']:.3f} "
             f"(> {audit['bound']}); see {folder / AUDIT_FILE}")
    if skipped:
        info(f"{task}: {len(skipped)} utterance(s) failed to synthesise; {len(dropped)} pair-voice(s) dropped")
    return write_meta(folder, "synthetic-bench", task_cfg, pairs=len(items), voices=voices,
                      audit_within_bounds=audit["within_bounds"] if audit else None,
                      utterances=len(tts) - len(skipped), dropped_pairs=dropped,
                      skipped=[{"id": s.id, "reason": s.reason} for s in skipped], **extra)


def build_bench(cfg: BenchConfig, out: str | Path, workers: int | None = None, force: bool = False
                ) -> dict[str, Any]:
    """Build every task of `cfg` under `out`; meta.json at the root is written last."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    voices = resolve_voices(cfg)
    metas = {t: build_task(t, cfg, voices, out, workers, force) for t in cfg.tasks}
    # The root lists every task folder present (earlier builds into the same root included).
    for t, sub in TASK_DIRS.items():
        if t not in metas and (out / sub / "meta.json").is_file():
            from slmscale.artifacts import read_json

            metas[t] = read_json(out / sub / "meta.json")
    stats = {t: {k: m.get(k) for k in ("pairs", "utterances", "dropped_pairs", "voices")}
             for t, m in sorted(metas.items())}
    return write_meta(out, "synthetic-bench-root", {**cfg.model_dump(mode="json"), "voices": voices},
                      tasks=stats)
