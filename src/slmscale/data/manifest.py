"""The utterance manifest: one JSON object per line, shared by every audio-producing stage.

Fields: id, audio (path relative to the manifest's folder), duration (s), sample_rate, text,
voice (speaker or synthetic voice name), split, words ([[word, start, end], ...] in seconds; may be
empty when no alignment is known).

Splits: `train`, `valid` and `test` are always known. Any other split name must be declared in the
manifest's summary file `<name>.meta.json` as `"splits": ["dev-other", ...]` (a list, or a mapping
whose keys are the names); an entry with an undeclared split is an error naming its line, so a
typo never silently drops data from training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from pydantic import Field, ValidationError, field_validator

from slmscale.artifacts import atomic_open
from slmscale.config import StrictModel, format_validation_error
from slmscale.errors import UserError

Word = tuple[str, float, float]


class ManifestEntry(StrictModel):
    id: str
    audio: str
    duration: float = Field(ge=0)
    sample_rate: int = Field(gt=0)
    text: str = ""
    voice: str = ""
    split: str = "train"
    words: list[Word] = Field(default_factory=list)
    # Phone spans (espeak-ng mnemonics) where the audio was synthesised; they train the `phone`
    # unit encoder (slmscale.units.phonenet). Real corpora leave this empty.
    phones: list[Word] = Field(default_factory=list)
    # Utterances with the same non-empty group read the same text in different voices (a parallel
    # corpus: `synth corpus --voices-per-story N`, or a real one such as VCTK's shared sentences).
    # `units pretrain --cross-voice` aligns them to give them the same targets; nothing else reads it.
    group: str = ""

    @field_validator("words", "phones")
    @classmethod
    def _ordered(cls, words: list[Word]) -> list[Word]:
        for w, start, end in words:
            if end < start:
                raise ValueError(f"{w!r} ends ({end}) before it starts ({start})")
        return words


def write_manifest(path: str | Path, entries: Iterable[ManifestEntry]) -> int:
    """Write entries atomically; returns how many were written."""
    n = 0
    with atomic_open(path, "w", encoding="utf-8") as fh:
        for e in entries:
            # `group` only where set, so manifests without parallel readings keep their bytes.
            row = e.model_dump(mode="json", exclude=None if e.group else {"group"})
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


STANDARD_SPLITS = ("train", "valid", "test")


def summary_path(manifest: str | Path) -> Path:
    """`<name>.meta.json` beside `<name>.jsonl`: the manifest's summary (and split declarations)."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name.removesuffix(".jsonl") + ".meta.json")


def known_splits(manifest: str | Path) -> set[str]:
    """The standard splits plus those declared in the manifest's summary file (`"splits"`)."""
    known = set(STANDARD_SPLITS)
    meta = summary_path(manifest)
    if meta.is_file():
        try:
            declared = json.loads(meta.read_text(encoding="utf-8")).get("splits")
        except (OSError, ValueError, AttributeError):
            declared = None
        if isinstance(declared, (list, dict)):
            known |= {str(name) for name in declared}
    return known


def iter_manifest(path: str | Path) -> Iterator[ManifestEntry]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: manifest not found (make one with `slmscale synth corpus` or "
                        "`slmscale data manifest`)")
    splits = known_splits(path)
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = ManifestEntry.model_validate(json.loads(line))
                except json.JSONDecodeError as err:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
                except ValidationError as err:
                    raise UserError(format_validation_error(err, f"{path}:{lineno}")) from None
                if entry.split not in splits:
                    raise UserError(f"{path}:{lineno}: unknown split {entry.split!r} (known: "
                                    f"{', '.join(sorted(splits))}); fix the entry, or declare the split in "
                                    f"{summary_path(path).name} as \"splits\": {json.dumps([entry.split])}")
                yield entry
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; is this a manifest?") from None


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    entries = list(iter_manifest(path))
    if not entries:
        raise UserError(f"{path}: manifest is empty")
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            raise UserError(f"{path}: duplicate id {e.id!r}; ids must be unique")
        seen.add(e.id)
    return entries


def audio_path(manifest_path: str | Path, entry: ManifestEntry) -> Path:
    """Resolve an entry's audio path (relative paths are relative to the manifest's folder)."""
    p = Path(entry.audio)
    return p if p.is_absolute() else Path(manifest_path).parent / p
