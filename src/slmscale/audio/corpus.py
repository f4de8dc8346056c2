"""Synthetic spoken corpora: stories (generated or read from a file) spoken by espeak-ng voices.

Layout of the output folder:
    DIR/audio/<voice>/<story id>.wav   16 kHz mono PCM-16
    DIR/manifest.jsonl                 one ManifestEntry per story (words with times)
    DIR/meta.json                      config, counts, hours, skipped items (written last)

Rules (all seeded, so the same config gives the same bytes):
- voice of a story: drawn from the chosen voices by `random.Random(f"{seed}/voice/{story id}")`;
- split of a story: "valid" when sha256(f"{seed}/split/{story id}") as a fraction in [0, 1) is
  below `valid_fraction`, else "train"; if that leaves no valid story among two or more, the
  story with the smallest hash is valid. A story's split never depends on the corpus size.
- `hours`: stories are synthesised in batches sized from the running speech rate until the
  total reaches the target; stories past the first one that reaches it are dropped.
- `no_story`: the same sentences without story structure (`text.stories.shuffle_across_stories`:
  shuffled across blocks of 64 stories, dealt back with each story's id and sentence count), so
  voices, splits and sizes match the story corpus of the same seed. With `stories` (or `text`)
  the sentences are exactly the story corpus's; with `hours` all but the last block's are.
  meta.json records it.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import shutil
import time
from pathlib import Path
from typing import Iterator

from pydantic import Field, field_validator, model_validator

from slmscale.artifacts import META, is_fresh, read_json, sha256_file, write_meta
from slmscale.audio.tts import Skipped, TTSItem, synthesize_many
from slmscale.audio.voices import TRAIN_VOICES, parse_voices
from slmscale.config import StrictModel
from slmscale.data.manifest import ManifestEntry, write_manifest
from slmscale.errors import UserError
from slmscale.locks import LOCK, exclusive
from slmscale.progress import info, say
from slmscale.text.stories import NO_STORY_BLOCK

KIND = "speech-corpus"
MARKER = ".slmscale-speech-corpus"  # written first, so an interrupted build can be redone in place
CHARS_PER_SECOND = 14.0  # first guess of the speaking rate, refined from each batch


class CorpusConfig(StrictModel):
    hours: float | None = Field(default=None, gt=0)
    stories: int | None = Field(default=None, gt=0)
    voices: list[str] = Field(default_factory=lambda: list(TRAIN_VOICES))
    text: str | None = None  # path of a text file (plain paragraphs or JSONL); None = generator
    seed: int = 0
    valid_fraction: float = Field(default=0.05, ge=0, lt=1)
    sample_rate: int = 16000
    no_story: bool = False  # sentences shuffled across stories (the no-story control arm)
    # Each story spoken by this many different voices (a parallel corpus for `units pretrain
    # --cross-voice`); the renditions share the manifest `group` (the story id) and the split.
    voices_per_story: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _one_size(self) -> "CorpusConfig":
        if self.hours is not None and self.stories is not None:
            raise ValueError("give --hours or --stories, not both")
        if self.text is None and self.hours is None and self.stories is None:
            raise ValueError("give --hours H or --stories N (or --text FILE to speak a whole file)")
        if self.voices_per_story > len(self.voices):
            n = len(self.voices)
            raise ValueError(f"--voices-per-story {self.voices_per_story}: only {n} voice{'s' if n != 1 else ''} "
                             f"given ({', '.join(self.voices)}); give more voices or fewer per story")
        return self

    @field_validator("voices")
    @classmethod
    def _known_voices(cls, voices: list[str]) -> list[str]:
        return parse_voices(voices)  # set names (train, test, ...) become their voices


def _fraction(*parts: object) -> float:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _texts(cfg: CorpusConfig) -> Iterator[tuple[str, str]]:
    """(id, text) pairs in order; a text file is read (and checked) right away."""
    from slmscale.text.stories import iter_stories, shuffle_across_stories

    if cfg.text is not None:
        from slmscale.text.reader import read_texts, split_sentences

        texts = [(f"t{i:07d}", text) for i, text in enumerate(read_texts(cfg.text))]
        if cfg.no_story:
            texts = texts[: cfg.stories] if cfg.stories else texts
            return shuffle_across_stories(((i, split_sentences(t)) for i, t in texts), cfg.seed)
        return iter(texts)
    if cfg.no_story:
        # With --stories the stream stops at N, so the last block holds exactly the story corpus's rest.
        stories = itertools.islice(iter_stories(cfg.seed), cfg.stories)
        return shuffle_across_stories(((st.id, st.sentences) for st in stories), cfg.seed)
    return ((story.id, story.text) for story in iter_stories(cfg.seed))


def config_record(cfg: CorpusConfig) -> dict:
    """The config as meta.json records it; `no_story` and `voices_per_story` only when set, so
    corpora built before those options existed keep their fingerprint (and their cache)."""
    exclude = {k for k, unset in (("no_story", not cfg.no_story), ("voices_per_story", cfg.voices_per_story == 1))
               if unset}
    return cfg.model_dump(mode="json", exclude=exclude or None)


def _items(cfg: CorpusConfig, sid: str, text: str) -> list[TTSItem]:
    """The story's utterances: one in a seeded voice, or with `voices_per_story` N, N distinct
    seeded voices (ids `<story>-<voice>`, one group, one split)."""
    split = "valid" if _fraction(cfg.seed, "split", sid) < cfg.valid_fraction else "train"
    rng = random.Random(f"{cfg.seed}/voice/{sid}")
    if cfg.voices_per_story == 1:
        voice = rng.choice(cfg.voices)
        return [TTSItem(id=sid, text=text, voice=voice, relpath=f"audio/{voice}/{sid}.wav", split=split)]
    return [TTSItem(id=f"{sid}-{voice}", text=text, voice=voice, relpath=f"audio/{voice}/{sid}.wav", split=split,
                    group=sid) for voice in rng.sample(cfg.voices, cfg.voices_per_story)]


def _prepare_out(out: Path) -> None:
    """Refuse to write into a folder that holds something other than a corpus of ours."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(p.name != LOCK for p in out.iterdir()):
        meta = out / META
        ours = (out / MARKER).is_file() or (meta.is_file() and read_json(meta).get("kind") == KIND)
        if not ours:
            raise UserError(f"--out {out}: folder is not empty and is not a slmscale speech corpus; "
                            "choose a new or empty folder")
        meta.unlink(missing_ok=True)  # stale or unfinished corpus: rebuild from scratch
        for sub in ("audio", "manifest.jsonl"):
            p = out / sub
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("a slmscale speech corpus is built here; meta.json marks it finished\n")


def build_corpus(cfg: CorpusConfig, out: str | Path, workers: int | None = None,
                 force: bool = False) -> dict:
    """Build (or find up to date) the corpus in `out`; returns its meta."""
    out = Path(out)
    if cfg.text and not Path(cfg.text).is_file():
        raise UserError(f"--text {cfg.text}: file not found (give a .txt file with one story per "
                        "paragraph or a .jsonl file with a \"text\" field)")
    inputs = {"text": sha256_file(cfg.text)} if cfg.text else {}
    from slmscale.artifacts import fingerprint

    fp = fingerprint(KIND, config_record(cfg), inputs)
    if not force and is_fresh(out, fp):
        meta = read_json(out / META)
        say(f"{out}: up to date ({meta['utterances']} utterances, {meta['hours']:.3f} h); nothing to do")
        return meta
    t0 = time.perf_counter()
    stream = _texts(cfg)  # before touching `out`: a bad text file changes nothing
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    with exclusive(out, "another `synth corpus`"):  # two builders would delete each other's audio
        return _build_locked(cfg, out, stream, inputs, workers, t0)


def _build_locked(cfg: CorpusConfig, out: Path, stream: Iterator[tuple[str, str]], inputs: dict[str, str],
                  workers: int | None, t0: float) -> dict:
    _prepare_out(out)
    entries: list[ManifestEntry] = []
    skipped: list[Skipped] = []
    if cfg.hours is None:
        texts = list(itertools.islice(stream, cfg.stories)) if cfg.stories else list(stream)
        if cfg.stories and len(texts) < cfg.stories:
            info(f"note: {cfg.text} holds only {len(texts)} stories (asked for {cfg.stories})")
        entries, skipped = synthesize_many([it for sid, t in texts for it in _items(cfg, sid, t)], out, workers)
    else:
        entries, skipped = _until_hours(cfg, stream, out, workers)
    entries = _ensure_valid(cfg, entries)
    if not entries:
        raise UserError(f"no utterance could be synthesised ({len(skipped)} skipped: "
                        f"{skipped[0].reason if skipped else 'no text'})")
    write_manifest(out / "manifest.jsonl", entries)
    wall = time.perf_counter() - t0
    seconds = sum(e.duration for e in entries)
    voices: dict[str, int] = {}
    splits: dict[str, int] = {}
    for e in entries:
        voices[e.voice] = voices.get(e.voice, 0) + 1
        splits[e.split] = splits.get(e.split, 0) + 1
    extra = {"story_structure": f"sentences shuffled across blocks of {NO_STORY_BLOCK} stories "
                                f"(seed {cfg.seed})"} if cfg.no_story else {}
    meta = write_meta(out, KIND, config_record(cfg), inputs, **extra, utterances=len(entries),
                      hours=round(seconds / 3600, 6),
                      words=sum(len(e.words) for e in entries), sample_rate=cfg.sample_rate,
                      voices=voices, splits=splits, wall_s=round(wall, 2),
                      realtime_factor=round(seconds / max(wall, 1e-9), 1),
                      skipped=[{"id": s.id, "reason": s.reason} for s in skipped])
    say(f"{out}: {len(entries)} utterances, {seconds / 3600:.3f} h of speech in {wall:.1f} s "
        f"({seconds / max(wall, 1e-9):.0f}x real time); skipped {len(skipped)}")
    for s in skipped:
        say(f"  skipped {s.id}: {s.reason}")
    return meta


def _until_hours(cfg: CorpusConfig, stream: Iterator[tuple[str, str]], out: Path,
                 workers: int | None) -> tuple[list[ManifestEntry], list[Skipped]]:
    target = cfg.hours * 3600  # type: ignore[operator]
    entries: list[ManifestEntry] = []
    skipped: list[Skipped] = []
    total, chars_done, seconds_done = 0.0, 0, 0.0
    while total < target:
        rate = seconds_done / chars_done if chars_done else 1 / CHARS_PER_SECOND
        stories: list[list[TTSItem]] = []
        est = 0.0
        # Aim a little past the target so one batch usually suffices; at least 8 stories a batch.
        while est < (target - total) * 1.05 or len(stories) < 8:
            nxt = next(stream, None)
            if nxt is None:
                break
            stories.append(_items(cfg, *nxt))
            est += len(nxt[1]) * rate * cfg.voices_per_story
        if not stories:
            info(f"note: ran out of text at {total / 3600:.3f} h (asked for {cfg.hours} h)")
            break
        got, bad = synthesize_many([it for story in stories for it in story], out, workers,
                                   description=f"synthesising ({total / 3600:.2f} h done)")
        skipped.extend(bad)
        by_id = {e.id: e for e in got}
        for story in stories:
            done = [(it, by_id[it.id]) for it in story if it.id in by_id]
            if total >= target:  # reached: drop the surplus stories of this batch (all their renditions)
                for _, e in done:
                    (out / e.audio).unlink(missing_ok=True)
                continue
            for item, e in done:
                entries.append(e)
                total += e.duration
                chars_done += len(item.text)
                seconds_done += e.duration
    return entries, skipped


def _ensure_valid(cfg: CorpusConfig, entries: list[ManifestEntry]) -> list[ManifestEntry]:
    """At least one valid story (all its renditions) when there are two stories or more."""
    story = {e.id: e.group or e.id for e in entries}
    if cfg.valid_fraction <= 0 or len(set(story.values())) < 2 or any(e.split == "valid" for e in entries):
        return entries
    pick = min(story.values(), key=lambda sid: _fraction(cfg.seed, "split", sid))
    return [e.model_copy(update={"split": "valid"}) if story[e.id] == pick else e for e in entries]
