"""Deduplicated units with their durations per manifest id: read from unit shards or encoded
from the manifest's audio."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from slmscale.data.manifest import ManifestEntry
from slmscale.errors import UserError


@dataclass
class UnitTable:
    """Deduplicated units and their durations (frames) per manifest id."""

    units: dict[str, tuple[np.ndarray, np.ndarray]]
    k: int
    frame_rate: float
    info: dict[str, Any] = field(default_factory=dict)   # the unit tokenizer's description

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.k}:{self.frame_rate}".encode())
        for key in sorted(self.units):
            u, d = self.units[key]
            h.update(key.encode() + b"\0")
            h.update(np.asarray(u, np.int64).tobytes() + b"|" + np.asarray(d, np.int64).tobytes())
        return h.hexdigest()


def units_from_shards(path: str | Path) -> UnitTable:
    """Read units and durations from unit shards (documents' `source` = manifest id; documents of
    one source are joined in order). Shards made without dedup have no durations: each lasts 1 frame."""
    from slmscale.data.shards import Shards

    sh = Shards(path)
    if sh.meta.get("modality") != "units":
        raise UserError(f"{path}: interleaving needs unit shards (modality 'units'), found "
                        f"{sh.meta.get('modality')!r}; use the `units encode` output, not unigram shards")
    tok = dict(sh.meta.get("tokenizer") or {})
    if "k" not in tok or "frame_rate" not in tok:
        raise UserError(f"{path}: shards meta.json lacks tokenizer.k / tokenizer.frame_rate")
    if tok.get("dedup", True) and sh.durations_flat is None:
        raise UserError(f"{path}: deduplicated unit shards without durations.bin; re-encode them")
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for i, d in enumerate(sh.docs):
        u = sh.doc(i).astype(np.int64)
        dur = sh.doc_durations(i).astype(np.int64) if sh.durations_flat is not None else np.ones_like(u)
        parts.setdefault(d.get("source") or d["id"], []).append((u, dur))
    units = {s: (np.concatenate([p[0] for p in ps]), np.concatenate([p[1] for p in ps]))
             for s, ps in parts.items()}
    return UnitTable(units, int(tok["k"]), float(tok["frame_rate"]), tok)


def units_from_tokenizer(entries: Sequence[ManifestEntry], manifest_path: str | Path, speech_tokenizer: Any,
                         load_audio: Callable[[Path], np.ndarray] | None = None) -> UnitTable:
    """Encode each entry's audio with a speech tokenizer (`.encode(wav) -> (units, durations)`,
    `.k`, `.frame_rate`). Unreadable audio raises the loader's UserError."""
    from slmscale.data.manifest import audio_path
    from slmscale.progress import track

    if load_audio is None:
        from slmscale.audio.io import load_audio as _load

        load_audio = _load
    per_voice = getattr(speech_tokenizer, "per_voice", False)
    if per_voice:  # voice statistics from each voice's audio in this manifest
        from slmscale.units.manifest_jobs import manifest_items

        speech_tokenizer.adapt(manifest_items(manifest_path, list(entries)))
    units = {}
    for e in track(entries, "encoding units", unit="utt"):
        wav = load_audio(audio_path(manifest_path, e))
        u, d = speech_tokenizer.encode(wav, voice=e.voice) if per_voice else speech_tokenizer.encode(wav)
        units[e.id] = (np.asarray(u, np.int64), np.asarray(d, np.int64))
    info = {"kind": "units", "k": int(speech_tokenizer.k), "frame_rate": float(speech_tokenizer.frame_rate)}
    if getattr(speech_tokenizer, "path", None) is not None and hasattr(speech_tokenizer, "shard_info"):
        info = speech_tokenizer.shard_info()  # a saved bundle: its path lets evaluation re-encode audio
    return UnitTable(units, int(speech_tokenizer.k), float(speech_tokenizer.frame_rate), info)
