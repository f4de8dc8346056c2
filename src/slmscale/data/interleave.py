"""Interleaved speech-text training data (SIMS): sequences that alternate text spans and speech
spans, plus text-only and speech-only streams, mixed by token ratio and written as shards.

Per utterance (a manifest entry with word alignments, joined with its deduplicated units):
  * speech spans: lengths drawn from max(1, Poisson(span_lambda)) words until
    round(speech_ratio * n_words) words are speech (the last length is cut to hit that count), placed
    uniformly at random among the words with at least one text word between two spans;
  * a speech span's units are exactly those whose time falls in [start of its first word, end of its
    last word). A unit's time is its MIDPOINT by default (`time_rule="start"`: its first frame):
    unit i spans frames [a_i, a_i + d_i) with a_i = sum of earlier durations, frame j covering
    [j / frame_rate, (j + 1) / frame_rate), so its midpoint is (a_i + d_i / 2) / frame_rate. The
    interval is half-open so two adjacent spans never share a unit. Units in pauses between a text
    word and a speech word belong to no span and are left out. A speech span that gets no unit
    (words shorter than a frame) stays text (counted as `reverted_spans`);
  * a text span is its words joined by spaces, encoded on its own (no leading space) by the
    extended model's tokenizer; surface forms come from the entry's `text` when it splits into as
    many whitespace tokens as there are aligned words (keeps case and punctuation), else from the
    aligned words;
  * every segment starts with its switch token (`<speech>` or `<text>`), so a switch token stands at
    every modality change and at the start of each document.
Text-only documents are `<text>` + the transcript, speech-only documents `<speech>` + all units
(`mark_single_modality=False` drops these leading markers). Documents hold no bos/eos.

Mixing: per split, each stream's documents form a pool; the mix weights are normalised to sum to 1
(the paper's 0.20 / 0.54 / 0.25 sum to 0.99). The total is the largest the pools allow,
min_j tokens_j / w_j, and each stream contributes the shuffled prefix of its pool whose token count
is closest to w_j * total. The chosen documents are shuffled together. Everything is drawn from
`seed` (per utterance from seed and id), so the same inputs and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from pydantic import Field

from slmscale.config import StrictModel
from slmscale.data.manifest import ManifestEntry
from slmscale.errors import UserError

STREAMS = ("text", "interleaved", "speech")


class MixConfig(StrictModel):
    text: float = Field(0.20, ge=0)
    interleaved: float = Field(0.54, ge=0)
    speech: float = Field(0.25, ge=0)

    def weights(self) -> dict[str, float]:
        raw = {"text": self.text, "interleaved": self.interleaved, "speech": self.speech}
        total = sum(raw.values())
        if total <= 0:
            raise UserError("mix: at least one of text / interleaved / speech must be > 0")
        return {k: v / total for k, v in raw.items()}


class InterleaveConfig(StrictModel):
    speech_ratio: float = Field(0.3, ge=0, le=1)     # share of words turned into speech
    span_lambda: float = Field(10.0, gt=0)           # Poisson mean of a speech span, in words
    time_rule: Literal["midpoint", "start"] = "midpoint"
    mix: MixConfig = Field(default_factory=MixConfig)
    mark_single_modality: bool = True
    seed: int = 0


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
    units = {}
    for e in track(entries, "encoding units", unit="utt"):
        u, d = speech_tokenizer.encode(load_audio(audio_path(manifest_path, e)))
        units[e.id] = (np.asarray(u, np.int64), np.asarray(d, np.int64))
    info = {"kind": "units", "k": int(speech_tokenizer.k), "frame_rate": float(speech_tokenizer.frame_rate)}
    if getattr(speech_tokenizer, "path", None) is not None and hasattr(speech_tokenizer, "shard_info"):
        info = speech_tokenizer.shard_info()  # a saved bundle: its path lets evaluation re-encode audio
    return UnitTable(units, int(speech_tokenizer.k), float(speech_tokenizer.frame_rate), info)


def unit_times(durations: np.ndarray, frame_rate: float, rule: str = "midpoint") -> np.ndarray:
    """Time (s) of each unit: midpoint of its frames, or its first frame's start."""
    d = np.asarray(durations, dtype=np.float64)
    starts = np.concatenate([[0.0], np.cumsum(d)[:-1]]) if d.size else d
    return (starts + (d / 2 if rule == "midpoint" else 0.0)) / frame_rate


def span_unit_mask(times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Units of a span: time in [start, end)."""
    return (times >= start) & (times < end)


def _utterance_seed(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "little")


def choose_speech_spans(n_words: int, rng: np.random.Generator, speech_ratio: float = 0.3,
                        span_lambda: float = 10.0) -> list[tuple[int, int]]:
    """Word ranges [i, j) to speak: Poisson(span_lambda) lengths (>= 1) summing to
    round(speech_ratio * n_words), placed at random, separated by at least one text word."""
    target = min(n_words, int(np.floor(speech_ratio * n_words + 0.5)))
    if target <= 0:
        return []
    lengths: list[int] = []
    while sum(lengths) < target:
        lengths.append(min(max(1, int(rng.poisson(span_lambda))), target - sum(lengths)))
    n_text = n_words - target
    while len(lengths) - 1 > n_text:          # too few text words to keep spans apart: merge
        lengths[-2] += lengths.pop()
    m = len(lengths)
    free = n_text - (m - 1)
    # Stars and bars: a uniform split of the free text words into m + 1 gaps.
    bars = np.sort(rng.choice(free + m, size=m, replace=False))
    gaps = np.diff(np.concatenate([[-1], bars, [free + m]])) - 1
    gaps[1:m] += 1
    spans, pos = [], int(gaps[0])
    for j, length in enumerate(lengths):
        spans.append((pos, pos + length))
        pos += length + int(gaps[j + 1])
    return spans


@dataclass
class Segment:
    modality: str            # "text" | "speech"
    text: str = ""
    units: np.ndarray | None = None


def surface_words(entry: ManifestEntry) -> list[str]:
    """Words as written: the transcript's whitespace tokens when they match the alignment one to
    one, else the aligned words."""
    toks = entry.text.split()
    return toks if len(toks) == len(entry.words) else [w for w, _, _ in entry.words]


def plan_segments(entry: ManifestEntry, units: np.ndarray, durations: np.ndarray, frame_rate: float,
                  cfg: InterleaveConfig) -> tuple[list[Segment], dict[str, int]]:
    """The text/speech segments of one utterance, and counts (speech words, spans, reverted spans)."""
    words = surface_words(entry)
    times = unit_times(durations, frame_rate, cfg.time_rule)
    rng = np.random.default_rng(_utterance_seed(cfg.seed, entry.id))
    spans = choose_speech_spans(len(words), rng, cfg.speech_ratio, cfg.span_lambda)
    speech: dict[int, np.ndarray] = {}
    stats = {"words": len(words), "speech_words": 0, "spans": 0, "reverted_spans": 0}
    for i, j in spans:
        mask = span_unit_mask(times, entry.words[i][1], entry.words[j - 1][2])
        if not mask.any():
            stats["reverted_spans"] += 1
            continue
        speech[i] = units[mask]
        stats["spans"] += 1
        stats["speech_words"] += j - i
    ends = dict(spans)
    segments: list[Segment] = []
    text: list[str] = []
    i = 0
    while i < len(words):
        if i in speech:
            if text:
                segments.append(Segment("text", " ".join(text)))
                text = []
            segments.append(Segment("speech", units=speech[i]))
            i = ends[i]
        else:
            text.append(words[i])
            i += 1
    if text:
        segments.append(Segment("text", " ".join(text)))
    return segments, stats


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
    return _utterance_seed(seed, f"split:{split}")


def build_interleaved_shards(manifest: str | Path, units: str | Path | UnitTable, extended_dir: str | Path,
                             out_dir: str | Path, cfg: InterleaveConfig | None = None,
                             extra_texts: Sequence[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Build the mixed text / interleaved / speech shards (modality "interleaved") in `out_dir`.

    `units`: unit shards directory (with durations) or a UnitTable; `extended_dir`: output of
    `model.extend.extend_vocabulary` or `text.interleaved_vocab.extend_tokenizer` (with speech_vocab.json);
    `extra_texts`: more text-only documents for the train split (e.g. the text LM's corpus).
    Skipped when `out_dir` already holds shards made from the same inputs and config (`force`
    rebuilds). Returns the shards' meta.
    """
    from slmscale.artifacts import META, fingerprint, is_fresh, read_meta, sha256_file, sha256_json
    from slmscale.progress import info
    from slmscale.data.manifest import read_manifest
    from slmscale.data.shards import ShardWriter
    from slmscale.text.interleaved_vocab import read_speech_vocab
    from slmscale.text.bpe import encode_texts, load_tokenizer

    cfg = cfg or InterleaveConfig()
    weights = cfg.mix.weights()
    vocab = read_speech_vocab(extended_dir)
    if isinstance(units, UnitTable):
        table, units_fp = units, units.fingerprint()
    else:
        table, units_fp = units_from_shards(units), read_meta(units).get("fingerprint", "")
    extra = list(extra_texts or [])
    inputs = {"manifest": sha256_file(manifest), "units": units_fp,
              "extended": read_meta(extended_dir).get("fingerprint", ""), "extra_texts": sha256_json(extra)}
    config = cfg.model_dump(mode="json")
    if not force and is_fresh(out_dir, fingerprint("shards", config, inputs)):
        info(f"{out_dir}: interleaved shards are up to date (same manifest, units, tokenizer and "
             "config); skipped")
        return read_meta(out_dir, "shards")
    (Path(out_dir) / META).unlink(missing_ok=True)

    tokenizer = load_tokenizer(extended_dir)
    entries = read_manifest(manifest)
    pools, stats = build_documents(entries, table, tokenizer, vocab, cfg)
    mark = [np.array([vocab.text_token_id], np.int64)] if cfg.mark_single_modality else []
    for i, toks in enumerate(encode_texts(tokenizer, extra)):
        if toks.size:
            pools["text"].append(Doc(f"extra-{i:08d}/text", "train", "", "", "text",
                                     np.concatenate(mark + [toks]), 0))
    splits = sorted({d.split for docs in pools.values() for d in docs})
    if "train" not in splits:
        raise UserError(f"{manifest}: no usable train utterances to interleave "
                        f"({len(stats['skipped'])} skipped)")
    units_info = dict(table.info)
    # `path` (the extended tokenizer, with speech_vocab.json) and `units_path` (the speech tokenizer
    # bundle) are what evaluation needs to tokenise benchmarks the way training saw them.
    tok_meta = {"kind": "interleaved", "path": str(Path(extended_dir).resolve()),
                "units_path": units_info.get("path"), "dedup": units_info.get("dedup"), "k": vocab.k,
                "unit_offset": vocab.unit_offset, "speech_token": vocab.speech_token,
                "text_token": vocab.text_token, "original_size": vocab.original_size,
                "fingerprint": inputs["extended"], "units": units_info}
    writer = ShardWriter(out_dir, vocab_size=vocab.vocab_size, special_tokens=vocab.special_tokens(),
                         modality="interleaved", tokenizer=tok_meta)
    per_split: dict[str, Any] = {}
    try:
        for split in splits:
            split_pools = {s: [d for d in pools[s] if d.split == split] for s in STREAMS}
            lengths = {s: np.array([len(d.tokens) for d in split_pools[s]], np.int64) for s in STREAMS}
            if any(lengths[s].sum() == 0 for s, w in weights.items() if w > 0):
                empty = [s for s, w in weights.items() if w > 0 and lengths[s].sum() == 0]
                if split == "train":
                    raise UserError(f"{manifest}: the train split has no {empty[0]} documents to mix")
                per_split[split] = {"skipped": f"no {empty[0]} documents"}
                continue
            rng = np.random.default_rng(split_seed(cfg.seed, split))
            chosen = select_mix(lengths, weights, rng)
            docs = [split_pools[s][i] for s in STREAMS for i in chosen[s]]
            toks = {s: int(lengths[s][chosen[s]].sum()) for s in STREAMS}
            total = max(1, sum(toks.values()))
            speech = 0
            for j in rng.permutation(len(docs)):
                d = docs[j]
                writer.add(d.tokens, doc_id=d.id, split=d.split, voice=d.voice, source=d.source,
                           stream=d.stream, speech_tokens=d.speech_tokens)
                speech += d.speech_tokens
            per_split[split] = {"stream_tokens": toks, "stream_documents": {s: len(chosen[s]) for s in STREAMS},
                                "stream_share": {s: toks[s] / total for s in STREAMS},
                                "speech_tokens": speech, "speech_token_share": speech / total}
    except BaseException:
        writer.abort()
        raise
    skipped = stats.pop("skipped")
    train = per_split["train"]
    return writer.close(
        config, inputs, unit_offset=vocab.unit_offset, mix_weights=weights, streams=per_split,
        speech_token_share=train["speech_token_share"],
        speech_word_share=stats["speech_words"] / max(1, stats["words"]), span_stats=stats,
        skipped=len(skipped), skipped_reasons=dict(list(skipped.items())[:100]))
