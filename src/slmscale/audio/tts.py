"""Text to 16 kHz speech with word timings, from espeak-ng's own word events.

Timing rules (all times in seconds from the start of the returned audio):
- Text is spoken sentence by sentence; each sentence's trailing silence is cut to `TAIL_S` and the
  sentences are joined with `PAUSE_S` of silence, so a word's time is its sentence's offset plus
  its time within the sentence (exact sample bookkeeping, no drift over long stories).
- A word starts at the sample where espeak-ng reports its WORD event.
- A word ends where espeak-ng starts the first pause phoneme ("_", "_:" ...) after the word's first
  phoneme, if that comes before the next word; otherwise where the next word starts. So pauses
  after commas and sentence ends (and voice echo in them) belong to no word.
- A sentence's trailing silence is cut `TAIL_S` after its last voiced 5 ms frame ("voiced" =
  RMS within `VOICED_DB` dB of the sentence's loudest frame); no word ends after that.
- Word text is the whitespace-separated token that holds the event, stripped of surrounding
  punctuation; a token espeak-ng speaks as several words (e.g. "42") is one word, and tokens it
  speaks as part of a neighbour (function words: "on the", "of a") join that word's item, so
  every token of the text is in exactly one item.
- A phone (espeak-ng's phoneme mnemonic, stress marks included, e.g. "'aI") starts at its PHONEME
  event and ends where the next phoneme or pause starts (or at the cut sentence end). Pauses are
  not listed: time outside every phone is silence.
"""

from __future__ import annotations

import bisect
import dataclasses
import multiprocessing as mp
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import soxr

from slmscale.cpus import usable_cpus
from slmscale.espeak import PAUSE, PHONE, WORD, EspeakError, SynthEvent, synth_pristine
from slmscale.audio.voices import Voice, get_voice
from slmscale.errors import UserError

if TYPE_CHECKING:
    from slmscale.data.manifest import ManifestEntry

SAMPLE_RATE = 16000
PAUSE_S = 0.3  # silence between sentences
TAIL_S = 0.05  # silence kept after the last voiced frame of a sentence
FRAME_S = 0.005
VOICED_DB = -40.0

Word = tuple[str, float, float]
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "jr", "sr", "mt", "vs", "etc", "e.g", "i.e", "no"}
_PUNCT = "\"'“”‘’()[]{}<>,.;:!?-–—…*_/\\|"


@dataclass(frozen=True)
class Utterance:
    """One sentence as spoken: native-rate samples and the words in it (sample offsets)."""

    samples: np.ndarray  # int16, native rate
    words: list[tuple[str, int, int]]  # (word, start sample, end sample)
    phones: list[tuple[str, int, int]] = dataclasses.field(default_factory=list)  # same, per phone


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`: split after . ! ? and whitespace, except after an abbreviation ("Mr.")
    or before a lower-case letter; empty ones dropped."""
    text = " ".join(text.split())
    cuts = [0]
    for m in _SENTENCE_END.finditer(text):
        before = text[cuts[-1]:m.start()].split()
        nxt = text[m.end():].lstrip()[:1]
        if (m.group(0) == "." and before and before[-1].lower().strip("\"'(“‘") in _ABBREVIATIONS) or nxt.islower():
            continue
        cuts.append(m.end())
    cuts.append(len(text))
    parts = (text[a:b].strip() for a, b in zip(cuts, cuts[1:]))
    return [p for p in parts if p.strip(_PUNCT + " ")]


def _voiced_frames(samples: np.ndarray, hop: int) -> np.ndarray:
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, bool)
    frames = samples[: n * hop].astype(np.float64).reshape(n, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    peak = rms.max()
    if peak <= 0:
        return np.zeros(n, bool)
    return rms >= peak * 10 ** (VOICED_DB / 20)


def align_words(text: str, samples: np.ndarray, events: list[SynthEvent],
                native_sr: int) -> Utterance:
    """Turn espeak's word and phoneme events into (word, start, end) sample spans and trim the
    sentence's trailing silence."""
    hop = max(1, int(round(FRAME_S * native_sr)))
    voiced = np.flatnonzero(_voiced_frames(samples, hop))
    audio_end = len(samples) if not len(voiced) else min(
        len(samples), (int(voiced[-1]) + 1) * hop + int(TAIL_S * native_sr))
    tokens = [(m.start(), m.end(), m.group(0).strip(_PUNCT)) for m in re.finditer(r"\S+", text)]
    token_start: dict[int, int] = {}  # token index -> sample of its first word event
    token_ends = [b for _, b, _ in tokens]
    for ev in sorted((e for e in events if e.kind == WORD), key=lambda e: e.sample):
        # The token holding the event's character, or the next one: espeak-ng sometimes points
        # at the space before a word (e.g. after a full stop it did not take as a sentence end).
        i = bisect.bisect_right(token_ends, ev.text_position)
        if i < len(tokens):
            token_start.setdefault(i, min(max(ev.sample, 0), audio_end))
    # Tokens espeak-ng spoke inside a neighbour's word (e.g. "the" in "on the") join that word.
    starts: list[tuple[str, int]] = []
    pending: list[str] = []
    for i, (_, _, word) in enumerate(tokens):
        if i in token_start:
            starts.append((" ".join(pending + [word]).strip(), token_start[i]))
            pending = []
        elif starts:
            starts[-1] = ((starts[-1][0] + " " + word).strip(), starts[-1][1])
        else:
            pending.append(word)
    starts = [(w, s) for w, s in starts if w]
    phones = np.array(sorted(e.sample for e in events if e.kind == PHONE), np.int64)
    pauses = np.array(sorted(e.sample for e in events if e.kind == PAUSE), np.int64)
    words: list[tuple[str, int, int]] = []
    for k, (word, start) in enumerate(starts):
        limit = starts[k + 1][1] if k + 1 < len(starts) else audio_end
        end = limit
        first_phone = phones[np.searchsorted(phones, start):][:1]
        if len(first_phone):  # the first pause after the word's first sound ends the word
            after = pauses[np.searchsorted(pauses, first_phone[0], side="right"):][:1]
            if len(after) and after[0] < limit:
                end = int(after[0])
        words.append((word, start, max(start, min(end, audio_end))))
    return Utterance(samples=samples[:audio_end], words=words, phones=phone_spans(events, audio_end))


def phone_spans(events: list[SynthEvent], audio_end: int) -> list[tuple[str, int, int]]:
    """(phone, start, end) sample spans of the PHONE events; each ends at the next phone or pause."""
    marks = sorted((e for e in events if e.kind in (PHONE, PAUSE)), key=lambda e: e.sample)
    spans = []
    for i, ev in enumerate(marks):
        if ev.kind != PHONE or ev.sample >= audio_end:
            continue
        end = min(marks[i + 1].sample if i + 1 < len(marks) else audio_end, audio_end)
        if end > ev.sample:
            spans.append((ev.phone, max(ev.sample, 0), end))
    return spans


def _assemble(utterances: list[Utterance], native_sr: int,
              sample_rate: int) -> tuple[np.ndarray, list[Word], list[Word]]:
    pause = np.zeros(int(round(PAUSE_S * native_sr)), np.int16)
    parts: list[np.ndarray] = []
    words: list[Word] = []
    phones: list[Word] = []
    offset = 0
    for i, utt in enumerate(utterances):
        if i:
            parts.append(pause)
            offset += len(pause)
        parts.append(utt.samples)
        for spans, out in ((utt.words, words), (utt.phones, phones)):
            out.extend((w, round((offset + s) / native_sr, 4), round((offset + e) / native_sr, 4))
                       for w, s, e in spans)
        offset += len(utt.samples)
    native = np.concatenate(parts).astype(np.float32) / 32768.0
    wav = native if sample_rate == native_sr else soxr.resample(native, native_sr, sample_rate, quality="HQ")
    return np.clip(wav, -1.0, 1.0).astype(np.float32, copy=False), words, phones


def synthesize_batch(requests: list[tuple[str, str | Voice]], sample_rate: int = SAMPLE_RATE,
                     phones: bool = False) -> list[tuple | str]:
    """Speak several texts in one pristine engine run; per text (wav, words) or an error reason;
    with `phones=True`, (wav, words, phones) where phones are (phone, start s, end s).

    The result for each text depends only on the request list, never on earlier calls.
    """
    from slmscale.espeak import Espeak

    native_sr = Espeak.get().sample_rate
    plan: list[tuple[int, str]] = []
    jobs = []
    out: list[tuple | str] = []
    for idx, (text, voice) in enumerate(requests):
        key = get_voice(voice).key
        sentences = split_sentences(text)
        if not sentences:
            out.append("empty text (nothing to speak)")
            continue
        out.append("")
        plan.extend((idx, s) for s in sentences)
        jobs.extend((key, s) for s in sentences)
    results = synth_pristine(jobs)
    grouped: dict[int, list[Utterance]] = {}
    for (idx, sentence), res in zip(plan, results):
        if isinstance(out[idx], str) and out[idx]:
            continue  # already failed on an earlier sentence
        if isinstance(res, str):
            out[idx] = f"synthesis failed: {res}"
            grouped.pop(idx, None)
            continue
        utt = align_words(sentence, res[0], res[1], native_sr)
        if len(utt.samples) == 0:
            out[idx] = f"espeak-ng produced no audio for {sentence[:40]!r}"
            grouped.pop(idx, None)
            continue
        grouped.setdefault(idx, []).append(utt)
    for idx, utts in grouped.items():
        if out[idx] == "":
            wav, words, spans = _assemble(utts, native_sr, sample_rate)
            out[idx] = (wav, words, spans) if phones else (wav, words)
    return out


def synthesize(text: str, voice: str | Voice, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, list[Word]]:
    """Speak `text` with a named voice: float32 mono audio at `sample_rate` and word timings."""
    (res,) = synthesize_batch([(text, voice)], sample_rate)
    if isinstance(res, str):
        raise (UserError if "empty text" in res else EspeakError)(f"{get_voice(voice).name}: {res}")
    return res


# ---- many utterances, in parallel processes -------------------------------------------------

BATCH_CHARS = 2000  # text per engine run (one fork): ~2 minutes of speech


@dataclass(frozen=True)
class TTSItem:
    id: str
    text: str
    voice: str
    relpath: str  # where the wav goes, relative to the output folder
    split: str = "train"
    group: str = ""  # the manifest's `group`: items reading the same text in other voices


class Skipped(NamedTuple):
    id: str
    reason: str


def make_batches(items: list[TTSItem], max_chars: int = BATCH_CHARS) -> list[list[TTSItem]]:
    """Consecutive items grouped by text length; the grouping (hence the audio) depends only on
    the item list, never on the number of workers."""
    batches: list[list[TTSItem]] = []
    size = 0
    for item in items:
        if not batches or size + len(item.text) > max_chars:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item.text)
    return batches


def _encode_wav(wav: np.ndarray, sample_rate: int) -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wav, sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _worker_init() -> None:
    from slmscale.espeak import Espeak

    Espeak.get()  # load and initialise espeak-ng once per worker process


def _run_batch(batch: list[TTSItem], out_dir: str, sample_rate: int) -> list[dict | Skipped]:
    """Synthesise one batch and write its wavs; returns manifest rows (dicts) or skips."""
    from slmscale.artifacts import atomic_write_bytes

    results = synthesize_batch([(it.text, it.voice) for it in batch], sample_rate, phones=True)
    rows: list[dict | Skipped] = []
    for item, res in zip(batch, results):
        if isinstance(res, str):
            rows.append(Skipped(item.id, res))
            continue
        wav, words, phones = res
        atomic_write_bytes(Path(out_dir) / item.relpath, _encode_wav(wav, sample_rate))
        rows.append({"id": item.id, "audio": Path(item.relpath).as_posix(),
                     "duration": len(wav) / sample_rate, "sample_rate": sample_rate,
                     "text": " ".join(item.text.split()), "voice": get_voice(item.voice).name,
                     "split": item.split, "words": [list(w) for w in words],
                     "phones": [list(p) for p in phones], **({"group": item.group} if item.group else {})})
    return rows


def _check_items(items: list[TTSItem]) -> None:
    seen: set[str] = set()
    for it in items:
        get_voice(it.voice)
        rel = Path(it.relpath)
        if rel.is_absolute() or ".." in rel.parts or not rel.name:
            raise UserError(f"item {it.id!r}: audio path {it.relpath!r} must be relative, inside the output")
        if it.id in seen:
            raise UserError(f"duplicate item id {it.id!r}; ids must be unique")
        seen.add(it.id)


def synthesize_many(items: list[TTSItem], out_dir: str | Path, workers: int | None = None,
                    split: str | None = None, sample_rate: int = SAMPLE_RATE,
                    description: str = "synthesising") -> tuple[list["ManifestEntry"], list[Skipped]]:
    """Speak every item into `out_dir/relpath` (16 kHz mono PCM-16 wav) using `workers` processes.

    Returns manifest entries in item order and the items skipped with their reason. `split`, when
    given, overrides each item's split. Same items = same bytes, whatever `workers` is. Items are
    spoken in batches (`make_batches`), one pristine engine run each; an item's samples can differ
    slightly from the same text spoken alone (engine phase), its word times by < 5 ms.
    """
    from slmscale.data.manifest import ManifestEntry
    from slmscale.progress import make_progress

    _check_items(items)
    if split is not None:
        items = [dataclasses.replace(it, split=split) for it in items]
    batches = make_batches(items)
    workers = max(1, min(workers or usable_cpus(), len(batches) or 1))
    done: dict[int, list[dict | Skipped]] = {}
    t0, audio_s = time.perf_counter(), 0.0
    pool = None
    futures: dict = {}
    if workers > 1:
        # Workers fork their own pristine espeak children, so a plain fork start is safe and
        # needs no `if __name__ == "__main__"` guard in the user's script. Submit before the
        # progress bar starts its thread.
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)
        futures = {pool.submit(_run_batch, b, str(out_dir), sample_rate): i for i, b in enumerate(batches)}
    try:
        with make_progress("audio-s") as prog:
            task = prog.add_task(description, total=len(items), rate="")
            for i, rows in (_serial(batches, str(out_dir), sample_rate) if pool is None
                            else ((futures[f], f.result()) for f in as_completed(futures))):
                done[i] = rows
                audio_s += sum(r["duration"] for r in rows if isinstance(r, dict))
                speed = audio_s / max(time.perf_counter() - t0, 1e-9)
                prog.update(task, advance=len(rows), rate=f"{speed:.0f} audio-s/s")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    entries: list[ManifestEntry] = []
    skipped: list[Skipped] = []
    for i in range(len(batches)):
        for row in done[i]:
            if isinstance(row, Skipped):
                skipped.append(row)
            else:
                entries.append(ManifestEntry.model_validate(row))
    return entries, skipped


def _serial(batches: list[list[TTSItem]], out_dir: str, sample_rate: int):
    for i, batch in enumerate(batches):
        yield i, _run_batch(batch, out_dir, sample_rate)


