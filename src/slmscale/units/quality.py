"""How good are speech units? Phone purity, PNMI, voice leakage, ABX and rate, for any tokenizer.

Definitions (frame level; y = phone of a frame, z = its unit, v = its voice), as in the HuBERT
paper (Hsu et al. 2021, section IV-C):
  phone purity    E_z[max_y p(y|z)]: frame accuracy if every unit is read as its most common phone
  cluster purity  E_y[max_z p(z|y)]: how much of each phone falls into its most common unit
  PNMI            I(y; z) / H(y): the share of the phone uncertainty the units remove
  NMI(unit;voice) I(z; v) / H(v): 0 = units say nothing about who speaks
ABX on word tokens cut from the manifest's word timings (words of >= 4 letters): A and X are the
same word, B another word said by A's voice; the triplet is right when DTW(A, X) < DTW(B, X) over
frame units with 0/1 cost (a tie counts 1/2). Within voice: X by A's voice (another token);
across voices: X by another voice. Reported separately for triplets among the corpus's training
voices and among held-out voices (slmscale.audio.voices), so speaker generalisation shows.
Word edits per second, on the same word tokens (their interior frames): the Levenshtein distance
between the deduplicated unit strings (as an LM reads them) of an anchor token and (a) another
token of the same word by the same voice, (b) one by another voice, (c) another word by the same
voice; for held-out and other voices, also (d) a token of the same word by a training voice, when
the manifests hold some (the spellings an LM trained on those voices knows). Each is divided by the
two tokens' mean duration: per second of speech, not per unit, because a tokenizer that spends
more units on a word would otherwise look more consistent for the same number of edits. (c) is
the scale. ABX asks only whether the same word is nearer than another and saturates near 0.99 on
the built-in corpus; these count how many edits separate the spellings an LM must learn as one word.
Units per second: deduplicated units per second of audio.

Phone alignments come from the manifest's `phones` (synthesised corpora carry espeak-ng's); a
corpus without them gets every measure but purity and PNMI.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from slmscale.errors import UserError

SILENCE = "_"


def joint_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Contingency table of two equally long integer label arrays: counts[a, b]."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"label arrays differ in length ({len(a)} vs {len(b)})")
    counts = np.zeros((int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    return counts


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mutual_information(counts: np.ndarray) -> float:
    """I(row; column) in nats from a contingency table."""
    p = counts / max(counts.sum(), 1)
    rows, cols = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (rows @ cols)[nz])).sum())


def phone_measures(counts: np.ndarray) -> dict[str, float]:
    """Phone purity, cluster purity and PNMI from counts[phone, unit]."""
    total = counts.sum()
    if total == 0:
        raise ValueError("no frames")
    p = counts / total
    h_phone = _entropy(p.sum(axis=1))
    return {"phone_purity": float(p.max(axis=0).sum()), "cluster_purity": float(p.max(axis=1).sum()),
            "pnmi": mutual_information(counts) / h_phone if h_phone > 0 else 0.0}


def normalized_mi(units: np.ndarray, labels: np.ndarray) -> float:
    """I(units; labels) / H(labels) (0 when the labels take one value)."""
    counts = joint_counts(units, labels)
    h = _entropy(counts.sum(axis=0) / counts.sum())
    return mutual_information(counts) / h if h > 0 else 0.0


def levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    """Substitutions, insertions and deletions that turn `a` into `b`."""
    prev = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        sub = prev[:-1] + (b != x)
        for j in range(1, len(b) + 1):
            cur[j] = min(sub[j - 1], prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return int(prev[-1])


def edit_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Levenshtein distance / the longer length (1.0 when either is empty)."""
    if len(a) == 0 or len(b) == 0:
        return 1.0
    return levenshtein(a, b) / max(len(a), len(b))


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """DTW over frame units with 0/1 cost (steps right, down, diagonal), divided by the length of
    the optimal path (ties broken towards the diagonal)."""
    cost = (np.asarray(a)[:, None] != np.asarray(b)[None, :]).astype(np.float64)
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int64)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            moves = ((acc[i - 1, j - 1], steps[i - 1, j - 1]), (acc[i - 1, j], steps[i - 1, j]),
                     (acc[i, j - 1], steps[i, j - 1]))
            best, length = min(moves, key=lambda t: t[0])
            acc[i, j] = cost[i - 1, j - 1] + best
            steps[i, j] = length + 1
    return float(acc[n, m]) / int(steps[n, m])


def abx(segments: list[tuple[str, str, np.ndarray]], across: bool, n: int, seed: int) -> tuple[float | None, int]:
    """ABX accuracy over up to `n` sampled triplets of (word, voice, frame units); (score, triplets)."""
    by_word_voice: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_voice: dict[str, list[int]] = defaultdict(list)
    for i, (word, voice, _) in enumerate(segments):
        by_word_voice[word, voice].append(i)
        by_voice[voice].append(i)
    voices_of: dict[str, set[str]] = defaultdict(set)
    for word, voice in by_word_voice:
        voices_of[word].add(voice)
    rng = random.Random(seed)
    scores: list[float] = []
    for _ in range(n * 20):
        if len(scores) >= n:
            break
        a = rng.randrange(len(segments))
        word, voice, units_a = segments[a]
        if across:
            others = sorted(voices_of[word] - {voice})
            if not others:
                continue
            x = rng.choice(by_word_voice[word, rng.choice(others)])
        else:
            same = [i for i in by_word_voice[word, voice] if i != a]
            if not same:
                continue
            x = rng.choice(same)
        b = rng.choice(by_voice[voice])
        if segments[b][0] == word:
            continue
        d_ax = dtw_distance(units_a, segments[x][2])
        d_bx = dtw_distance(segments[b][2], segments[x][2])
        scores.append(1.0 if d_ax < d_bx else 0.5 if d_ax == d_bx else 0.0)
    return (float(np.mean(scores)) if scores else None), len(scores)


def _spellings(segments: list[tuple[str, str, np.ndarray]]) -> list[np.ndarray]:
    """Each word token's deduplicated unit string, as an LM reads it."""
    from slmscale.units.dedup import dedup

    return [dedup(np.asarray(units))[0] for _, _, units in segments]


def _spelling_distance(a: np.ndarray, b: np.ndarray, frames_a: int, frames_b: int, rate: float | None) -> float:
    """Distance between two spellings: with `rate` (frames per second), edits per second of speech
    (the mean of the two tokens' durations), which does not favour tokenizers that spend more units
    per word; without it, edits over the longer string."""
    if rate is None:
        return edit_distance(a, b)
    return levenshtein(a, b) / ((frames_a + frames_b) / 2 / rate)


def word_edit_distances(segments: list[tuple[str, str, np.ndarray]], n: int, seed: int,
                        rate: float | None = None) -> dict[str, Any]:
    """Mean distance (see _spelling_distance) between tokens of one word, over up to `n` sampled
    anchors that have the same word by the same voice, by another voice, and another word by the
    same voice: {"within", "across", "other": mean or None, "pairs": anchors used}."""
    strings = _spellings(segments)
    by_word: dict[str, list[int]] = defaultdict(list)
    by_voice: dict[str, list[int]] = defaultdict(list)
    for i, (word, voice, _) in enumerate(segments):
        by_word[word].append(i)
        by_voice[voice].append(i)
    rng = random.Random(f"{seed}:word-edit")  # not ABX's stream: its triplets stay as they were
    got: dict[str, list[float]] = {"within": [], "across": [], "other": []}
    for _ in range(n * 20 if segments else 0):
        if len(got["within"]) >= n:
            break
        a = rng.randrange(len(segments))
        word, voice, _ = segments[a]
        same_voice = [i for i in by_word[word] if i != a and segments[i][1] == voice]
        other_voice = [i for i in by_word[word] if segments[i][1] != voice]
        b = rng.choice(by_voice[voice])
        if not same_voice or not other_voice or segments[b][0] == word:
            continue
        for key, p in (("within", rng.choice(same_voice)), ("across", rng.choice(other_voice)), ("other", b)):
            got[key].append(_spelling_distance(strings[a], strings[p], len(segments[a][2]), len(segments[p][2]), rate))
    n_used = len(got["within"])
    return {**{k: (float(np.mean(v)) if n_used else None) for k, v in got.items()}, "pairs": n_used}


def word_edit_to_reference(segments: list[tuple[str, str, np.ndarray]],
                           reference: list[tuple[str, str, np.ndarray]], n: int, seed: int,
                           rate: float | None = None) -> tuple[float | None, int]:
    """Mean distance (see _spelling_distance) from up to `n` sampled tokens of `segments` to a token
    of the same word in `reference` (held-out voices against the training voices an LM learned the
    spellings from); (mean or None, anchors used)."""
    by_word: dict[str, list[int]] = defaultdict(list)
    for i, (word, _, _) in enumerate(reference):
        by_word[word].append(i)
    anchors = [i for i, (word, _, _) in enumerate(segments) if by_word.get(word)]
    rng = random.Random(f"{seed}:word-edit-reference")
    pairs = [(segments[a], reference[rng.choice(by_word[segments[a][0]])])
             for a in sorted(rng.sample(anchors, min(n, len(anchors))))]
    got = [_spelling_distance(*_spellings([x, y]), len(x[2]), len(y[2]), rate) for x, y in pairs]
    return (float(np.mean(got)) if got else None), len(got)


def _voice_group(voice: str) -> str:
    from slmscale.audio.voices import VOICES

    v = VOICES.get(voice)
    return "other" if v is None else ("train" if v.split == "train" else "heldout")


def _frame_offset_s(tok: Any) -> float:
    """Seconds from a frame's index time (i / rate) to the centre of what it hears: 0 for the
    centred spectral frames, half the conv receptive field for HuBERT-family models."""
    if tok.config.encoder.name != "hubert":
        return 0.0
    from slmscale.units.encoders import receptive_field

    conf = tok.encoder.model.config
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


Features = Callable[[np.ndarray, list[Any]], list[np.ndarray]]


def measure_many(tokenizers: list[str | Path], manifests: list[str | Path], max_utterances: int = 300,
                 triplets: int = 1000, seed: int = 0, features: Features | None = None) -> list[dict[str, Any]]:
    """measure_units for several tokenizers, each utterance read once for all of them. `features(wav,
    toks)` gives those tokenizers' features of a file at once (`units layers`: one forward pass
    for several layers); by default each tokenizer's own encoder computes its own."""
    from slmscale.data.manifest import audio_path, read_manifest
    from slmscale.progress import track
    from slmscale.units.bundle import SpeechTokenizer, single_threaded_blas
    from slmscale.units.manifest_jobs import bad_reason, check_length, load_wav, manifest_items

    toks = [SpeechTokenizer.load(t) for t in tokenizers]
    measured = [_Measured(t, tok) for t, tok in zip(tokenizers, toks)]
    for manifest in manifests:
        entries = every = read_manifest(manifest)
        if len(entries) > max_utterances:
            entries = sorted(random.Random(f"{seed}:{manifest}").sample(entries, max_utterances), key=lambda e: e.id)
        # Voice statistics (voice-normalised tokenizers) come from all of the voice's audio here.
        for tok in toks:
            tok.adapt(manifest_items(manifest, every), {e.voice for e in entries})
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
            usable = []
            for m in ready:
                try:
                    check_length(wav, m.tok.encoder.min_samples(), path)
                    usable.append(m)
                except Exception as err:
                    m.skipped.append({"id": e.id, "reason": bad_reason(err)})
            if not usable:
                continue
            with single_threaded_blas():  # as SpeechTokenizer.encode computes them
                feats = (features(wav, [m.tok for m in usable]) if features is not None
                         else [m.tok.encoder.features(wav) for m in usable])
                for m, f in zip(usable, feats):
                    units = m.tok.units_from_features(f, dedup=False, voice=e.voice)[0].astype(np.int64)
                    m.add(e, units, len(wav) / 16000)
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
