"""The three streams' documents of every utterance, and the mix of them written per split.

Interleaved documents are an utterance's segments (spans.py), each led by its switch token.
Text-only documents are `<text>` + the transcript, speech-only documents `<speech>` + all units
(`mark_single_modality=False` drops these leading markers). Documents hold no bos/eos.

Mixing: per split, each stream's documents form a pool; the mix weights are normalised to sum to 1
(the paper's 0.20 / 0.54 / 0.25 sum to 0.99). The total is the largest the pools allow,
min_j tokens_j / w_j, and each stream contributes the shuffled prefix of its pool whose token count
is closest to w_j * total. The chosen documents are shuffled together. Everything is drawn from
`seed` (per utterance from seed and id), so the same inputs and seed give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from slmscale.data.interleave.config import STREAMS, InterleaveConfig
from slmscale.data.interleave.spans import Segment, plan_segments, surface_words, utterance_seed
from slmscale.data.interleave.units import UnitTable
from slmscale.data.manifest import ManifestEntry
from slmscale.errors import UserError


@dataclass
class Doc:
    id: str
    split: str
    voice: str
    source: str
    stream: str
    tokens: np.ndarray
    speech_tokens: int       # unit tokens in this document


def build_documents(entries: Sequence[ManifestEntry], table: UnitTable, tokenizer: Any, vocab: Any,
                    cfg: InterleaveConfig) -> tuple[dict[str, list[Doc]], dict[str, Any]]:
    """Every candidate document of the three streams, and the skipped entries with reasons.

    `vocab` is the extended model's SpeechVocab (unit offset, switch-token ids)."""
    from slmscale.text.bpe import encode_texts

    if table.k != vocab.k:
        raise UserError(f"units have k = {table.k} but the extended tokenizer has {vocab.k} unit tokens; "
                        "extend the text LM with the same k as the speech tokenizer")
    from slmscale.progress import track

    planned: list[tuple[ManifestEntry, list[Segment], np.ndarray]] = []
    skipped: dict[str, str] = {}
    totals = {"words": 0, "speech_words": 0, "spans": 0, "reverted_spans": 0}
    for e in track(entries, "interleaving", unit="utt"):
        if e.id not in table.units:
            skipped[e.id] = "no units for this manifest id"
            continue
        u, d = table.units[e.id]
        if len(u) != len(d) or len(u) == 0:
            skipped[e.id] = "no units (or units/durations differ in length)"
            continue
        if not e.words:
            skipped[e.id] = "no word alignment"
            continue
        segs, st = plan_segments(e, u, d, table.frame_rate, cfg)
        for key in totals:
            totals[key] += st[key]
        planned.append((e, segs, u))
    # One batched pass through the text tokenizer for every text span and transcript.
    strings = [s.text for _, segs, _ in planned for s in segs if s.modality == "text"]
    strings += [" ".join(surface_words(e)) for e, _, _ in planned]
    encoded = iter(encode_texts(tokenizer, strings))
    mark_t = np.array([vocab.text_token_id], np.int64)
    mark_s = np.array([vocab.speech_token_id], np.int64)
    pools: dict[str, list[Doc]] = {s: [] for s in STREAMS}
    for e, segs, _ in planned:
        parts, n_speech = [], 0
        for s in segs:
            if s.modality == "text":
                parts += [mark_t, next(encoded)]
            else:
                parts += [mark_s, vocab.unit_ids(s.units)]
                n_speech += len(s.units)
        pools["interleaved"].append(Doc(f"{e.id}/interleaved", e.split, e.voice, e.id, "interleaved",
                                        np.concatenate(parts), n_speech))
    lead_t = [mark_t] if cfg.mark_single_modality else []
    lead_s = [mark_s] if cfg.mark_single_modality else []
    for e, _, u in planned:
        pools["text"].append(Doc(f"{e.id}/text", e.split, e.voice, e.id, "text",
                                 np.concatenate(lead_t + [next(encoded)]), 0))
        pools["speech"].append(Doc(f"{e.id}/speech", e.split, e.voice, e.id, "speech",
                                   np.concatenate(lead_s + [vocab.unit_ids(u)]), len(u)))
    return pools, {"skipped": skipped, **totals}


def select_mix(lengths: Mapping[str, np.ndarray], weights: Mapping[str, float],
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Indices into each pool so that token counts follow `weights` (normalised): the largest
    total the pools allow, each stream a shuffled prefix closest to its share."""
    active = {s: w for s, w in weights.items() if w > 0}
    total = min(float(np.sum(lengths[s])) / w for s, w in active.items())
    chosen: dict[str, np.ndarray] = {}
    for s in STREAMS:
        order = rng.permutation(len(lengths[s]))
        if s not in active or total <= 0:
            chosen[s] = order[:0]
            continue
        cum = np.concatenate([[0], np.cumsum(np.asarray(lengths[s], np.int64)[order])])
        m = int(np.argmin(np.abs(cum - active[s] * total)))
        chosen[s] = order[:m]
    return chosen


def split_seed(seed: int, split: str) -> int:
    return utterance_seed(seed, f"split:{split}")
