"""How good are speech units? Phone purity, PNMI, voice leakage, ABX, word edits and rate, for any
tokenizer: `measure_many` reads each manifest utterance once, turns it into every tokenizer's frame
units, and hands them to the measures of `slmscale.units.measures` (their definitions are there).

Phone alignments come from the manifest's `phones` (synthesised corpora carry espeak-ng's); a
corpus without them gets every measure but purity and PNMI.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.errors import UserError
from slmscale.units.measures import (abx, joint_counts, normalized_mi, phone_measures, word_edit_distances,
                                     word_edit_to_reference)

SILENCE = "_"


def _voice_group(voice: str) -> str:
    from slmscale.audio.voices import VOICES

    v = VOICES.get(voice)
    return "other" if v is None else ("train" if v.split == "train" else "heldout")


def _frame_offset_s(tok: Any) -> float:
    """Seconds from a frame's index time (i / rate) to the centre of what it hears: 0 for the
    centred spectral frames, half the conv receptive field for HuBERT-family models."""
    if tok.config.encoder.name != "hubert":
        return 0.0
    from slmscale.units.encoders import hubert_model_config, receptive_field

    conf = hubert_model_config(tok.config.encoder.checkpoint)[1]  # its config.json; no weights loaded
    return receptive_field(conf.conv_kernel, conf.conv_stride) / 2 / 16000


class _Measured:
    """One tokenizer's units of the measured utterances, kept as the measures need them."""

    def __init__(self, tokenizer: str | Path, tok: Any):
        self.tokenizer, self.tok = tokenizer, tok
        self.rate, self.offset = tok.frame_rate, _frame_offset_s(tok)
        self.phone_ids: dict[str, int] = {}
        self.voice_ids: dict[str, int] = {}
        self.units_all: list[np.ndarray] = []
        self.phones_all: list[np.ndarray] = []
        self.unit_ph: list[np.ndarray] = []
        self.voices_all: list[np.ndarray] = []
        self.segments: dict[str, list] = defaultdict(list)  # word tokens for ABX
        self.inner: dict[str, list] = defaultdict(list)  # their interiors, for the word edit distances
        self.seconds, self.deduped, self.n_utts = 0.0, 0, 0
        self.skipped: list[dict[str, str]] = []

    def add(self, e: Any, units: np.ndarray, seconds: float) -> None:
        from slmscale.units.dedup import dedup
        from slmscale.units.phonenet import normalize_phone

        rate, offset = self.rate, self.offset
        self.n_utts += 1
        self.seconds += seconds
        self.deduped += len(dedup(units)[0])
        self.units_all.append(units)
        self.voices_all.append(np.full(len(units), self.voice_ids.setdefault(e.voice, len(self.voice_ids))))
        if e.phones:
            labels = np.full(len(units), self.phone_ids.setdefault(SILENCE, len(self.phone_ids)), np.int64)
            for name, start, end in e.phones:
                pid = self.phone_ids.setdefault(normalize_phone(name), len(self.phone_ids))
                lo, hi = int(round((start - offset) * rate)), int(round((end - offset) * rate))
                labels[max(lo, 0):min(hi, len(units))] = pid
            self.phones_all.append(labels)
            self.unit_ph.append(units)
        for word, start, end in e.words:
            if len(word) < 4 or " " in word:
                continue
            name, group = word.lower().strip(".,!?\"'"), _voice_group(e.voice)
            seg = units[int(start * rate):int(math.ceil(end * rate))]
            if len(seg) >= 3:
                self.segments[group].append((name, e.voice, seg))
            # The spelling an LM learns: frames centred inside the word, less the one at each
            # edge, which also hears the neighbouring word (context, not voice, changes it).
            lo, hi = int(round((start - offset) * rate)) + 1, int(round((end - offset) * rate)) - 1
            if hi - max(lo, 0) >= 3:
                self.inner[group].append((name, e.voice, units[max(lo, 0):hi]))

    def result(self, manifests: list[str | Path], triplets: int, seed: int) -> dict[str, Any]:
        if not self.units_all:
            raise UserError(f"{', '.join(map(str, manifests))}: no usable audio to measure units on")
        tok, rate, inner = self.tok, self.rate, self.inner
        units_cat = np.concatenate(self.units_all)
        result: dict[str, Any] = {
            "tokenizer": str(Path(self.tokenizer).resolve()), "encoder": tok.config.encoder.name, "k": tok.k,
            "frame_rate": rate, "utterances": self.n_utts, "hours": round(self.seconds / 3600, 4),
            "skipped": self.skipped, "voices": sorted(self.voice_ids), "units_used": int(np.unique(units_cat).size),
            "units_per_second": self.deduped / self.seconds,
            "nmi_unit_voice": normalized_mi(units_cat, np.concatenate(self.voices_all)),
        }
        if self.phones_all:
            counts = joint_counts(np.concatenate(self.phones_all), np.concatenate(self.unit_ph))
            result.update(phone_measures(counts), phones=len(self.phone_ids))
        else:
            result.update(phone_purity=None, cluster_purity=None, pnmi=None, phones=0)
        for group in ("train", "heldout", "other"):
            segs = self.segments.get(group)
            if not segs:
                continue
            for mode, across in (("within", False), ("across", True)):
                score, n = abx(segs, across, triplets, seed)
                result[f"abx_{mode}_{group}"] = score
                result[f"abx_{mode}_{group}_triplets"] = n
            edits = word_edit_distances(inner[group], triplets, seed, rate)
            if edits["pairs"]:
                result.update({f"word_edits_per_s_{k}_{group}": edits[k] for k in ("within", "across", "other")},
                              **{f"word_edits_per_s_{group}_pairs": edits["pairs"]})
            if group != "train" and inner.get("train"):
                mean, n = word_edit_to_reference(inner[group], inner["train"], triplets, seed, rate)
                if n:
                    result[f"word_edits_per_s_to_train_{group}"] = mean
                    result[f"word_edits_per_s_to_train_{group}_pairs"] = n
        return result


def measure_units(tokenizer: str | Path, manifests: list[str | Path], max_utterances: int = 300,
                  triplets: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every measure for one tokenizer over the manifests' audio (a seeded subset of each)."""
    return measure_many([tokenizer], manifests, max_utterances, triplets, seed)[0]


def measure_many(tokenizers: list[str | Path], manifests: list[str | Path], max_utterances: int = 300,
                 triplets: int = 1000, seed: int = 0, encoders: list[Any] | None = None) -> list[dict[str, Any]]:
    """measure_units for several tokenizers, each utterance read once for all of them. Tokenizers
    on layers of the same HuBERT-family checkpoint share one model and one forward pass
    (units.layer_views), or the `encoders` given (one per tokenizer, None: its own; `units layers`
    keeps one shared pass over its seeds). With shared passes each voice's statistics are taken for
    every tokenizer in turn, so its audio, like every measured file, passes the model once."""
    from slmscale.data.manifest import audio_path, read_manifest
    from slmscale.progress import track
    from slmscale.units.bundle import SpeechTokenizer, single_threaded_blas
    from slmscale.units.layer_views import shared_views
    from slmscale.units.manifest_jobs import bad_reason, check_length, load_wav, manifest_items

    toks = [SpeechTokenizer.load(t) for t in tokenizers]
    encoders = encoders or shared_views([tok.config.encoder for tok in toks])
    for tok, encoder in zip(toks, encoders, strict=True):
        if encoder is not None:
            tok.encoder = encoder
    shared = any(e is not None for e in encoders)
    measured = [_Measured(t, tok) for t, tok in zip(tokenizers, toks)]
    for manifest in manifests:
        entries = every = read_manifest(manifest)
        if len(entries) > max_utterances:
            entries = sorted(random.Random(f"{seed}:{manifest}").sample(entries, max_utterances), key=lambda e: e.id)
        # Voice statistics (voice-normalised tokenizers) come from all of the voice's audio here.
        items, voices = manifest_items(manifest, every), sorted({e.voice for e in entries})
        for group in ([{v} for v in voices] if shared else [set(voices)]):
            for tok in toks:
                tok.adapt(items, group)
        for e in track(entries, f"units quality ({Path(manifest).parent.name})", unit="utt"):
            ready = []
            for m in measured:
                refused = m.tok.voice_ready(e.voice)
                if refused is not None:
                    m.skipped.append({"id": e.id, "reason": refused})
                else:
                    ready.append(m)
            if not ready:
                continue
            path = audio_path(manifest, e)
            try:
                wav = load_wav(path)
            except Exception as err:  # a bad file is skipped and listed, never fatal
                for m in ready:
                    m.skipped.append({"id": e.id, "reason": bad_reason(err)})
                continue
            for m in ready:
                try:
                    check_length(wav, m.tok.encoder.min_samples(), path)
                except Exception as err:
                    m.skipped.append({"id": e.id, "reason": bad_reason(err)})
                    continue
                with single_threaded_blas():  # as SpeechTokenizer.encode computes them
                    units = m.tok.units_from_features(m.tok.encoder.features(wav), dedup=False, voice=e.voice)[0]
                m.add(e, units.astype(np.int64), len(wav) / 16000)
    return [m.result(manifests, triplets, seed) for m in measured]


ROWS = [("phone purity", "phone_purity"), ("cluster purity", "cluster_purity"), ("PNMI", "pnmi"),
        ("NMI(unit; voice)", "nmi_unit_voice"), ("ABX within voice, training voices", "abx_within_train"),
        ("ABX across voices, training voices", "abx_across_train"),
        ("ABX within voice, held-out voices", "abx_within_heldout"),
        ("ABX across voices, held-out voices", "abx_across_heldout"),
        ("ABX within voice, other voices", "abx_within_other"),
        ("ABX across voices, other voices", "abx_across_other"),
        *[(f"word edits per second, {what}, {label} voices", f"word_edits_per_s_{key}_{group}")
          for group, label in (("train", "training"), ("heldout", "held-out"), ("other", "other"))
          for key, what in (("within", "same word, same voice"), ("across", "same word, other voice"),
                            ("to_train", "same word, a training voice"), ("other", "other word, same voice"))],
        ("units per second (deduplicated)", "units_per_second"), ("units used", "units_used")]


def format_table(results: list[dict[str, Any]], names: list[str] | None = None) -> str:
    """A Markdown table: one row per measure, one column per tokenizer."""
    names = names or [Path(r["tokenizer"]).name for r in results]
    lines = ["| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(results)]
    for label, key in ROWS:
        if all(r.get(key) is None for r in results):
            continue
        cells = []
        for r in results:
            v = r.get(key)
            cells.append("–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
