"""Do built-in speech units carry phones or voices? A fast probe, printed as JSON.

Fits a unit recipe on a synthetic corpus (or loads a fitted TOKDIR) and reports:
  consistency  sWUGGY bench words spoken by 2 voices: normalised edit distance of deduped unit
               strings (same word / other voice vs other word / same voice) and across-voice ABX on
               frame units (DTW, 0/1 cost): A = word by voice 1, X = same word by voice 2, B = another
               word (abx_word) or the word's own non-word (abx_nonword) by voice 1. 1.0 = perfect.
  ngram        an interpolated Kneser-Ney n-gram LM on the corpus units, scored on sWUGGY pairs
               (mean log-prob per token incl. EOS, like `slmscale eval`; and sum).
  usage        units used, units per second, normalised mutual information I(unit; voice) / H(voice)
               over the corpus (0 = units say nothing about the voice).
Phone purity, PNMI and ABX by voice group: `slmscale units quality` (the same measures, one module).
  corpus_words edit distances between word segments cut from the stories (manifest word timings):
               same word / same voice, same word / other voice, other word / same voice.

    slmscale synth corpus --out /tmp/unitq/c --hours 0.5 --seed 0
    slmscale synth bench --out /tmp/unitq/b --task swuggy --matched --n 200
    slmscale synth bench --out /tmp/unitq/bh --task swuggy --n 200
    python bench/units_quality.py --corpus /tmp/unitq/c --bench /tmp/unitq/b --bench /tmp/unitq/bh \
        --encoder '{"name": "mfcc"}' --k 100
    python bench/units_quality.py --corpus /tmp/unitq/c --bench /tmp/unitq/b --tokdir TOK
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from slmscale.audio.io import load_audio
from slmscale.data.manifest import audio_path, read_manifest
from slmscale.units.bundle import SpeechTokenizer, TokenizerConfig
from slmscale.units.dedup import dedup
from slmscale.units.encoders import EncoderConfig
# One implementation of the unit-quality measures: slmscale.units.quality (`slmscale units quality`).
from slmscale.units.measures import dtw_distance, edit_distance, normalized_mi, word_edit_distances


def fit_recipe(corpus: Path, encoder: dict, k: int, seed: int, max_frames: int,
               projection: int | None, out: Path) -> SpeechTokenizer:
    """Fit through the library (`units fit` code path) into `out`, or reuse it when up to date."""
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    cfg = make_fit_config(corpus / "manifest.jsonl", EncoderConfig.model_validate(encoder), k,
                          max_frames=max_frames, seed=seed)
    if projection is not None:
        cfg = cfg.model_copy(update={"projection": projection})
    fit_tokenizer(cfg, out, workers=1)
    return SpeechTokenizer.load(out)


SMOOTH = [0]


def frames_of(tok: SpeechTokenizer, wav: np.ndarray) -> np.ndarray:
    units = tok.encode(wav, dedup=False)[0]
    for _ in range(SMOOTH[0]):  # prototype: drop one-frame blips A B A -> A A A
        blip = np.zeros(len(units), bool)
        blip[1:-1] = (units[:-2] == units[2:]) & (units[1:-1] != units[:-2])
        units = np.where(blip, np.roll(units, 1), units)
    return units


def corpus_units(tok: SpeechTokenizer, corpus: Path) -> tuple[list[np.ndarray], list[str], float, list]:
    """Frame units of every utterance, its voice, total seconds, and word segments
    (word, voice, deduped units) cut with the manifest's word timings."""
    entries = [e for e in read_manifest(corpus / "manifest.jsonl")]
    seqs, voices, seconds, words = [], [], 0.0, []
    for e in entries:
        wav = load_audio(audio_path(corpus / "manifest.jsonl", e))
        seconds += len(wav) / 16000
        frames = frames_of(tok, wav)
        seqs.append(frames)
        voices.append(e.voice)
        for word, start, end in e.words:
            seg = frames[int(start * tok.frame_rate):int(math.ceil(end * tok.frame_rate))]
            if len(word) >= 4 and " " not in word and len(seg) >= 3:
                words.append((word.lower(), e.voice, dedup(seg)[0]))
    return seqs, voices, seconds, words


def corpus_consistency(words: list, seed: int, n: int) -> dict:
    """Edit distances between word segments cut from the stories (sampled as `units quality` does,
    but over the longer string, as this probe always reported): same word by the same voice, same
    word by another voice, another word by the same voice."""
    got = word_edit_distances(words, n, seed)
    names = {"within": "same_word_same_voice", "across": "same_word_other_voice", "other": "other_word_same_voice"}
    res = {f"edit_{name}": None if got[key] is None else round(got[key], 4) for key, name in names.items()}
    res["pairs"] = got["pairs"]
    return res


def bench_units(tok: SpeechTokenizer, bench: Path) -> list[dict]:
    folder = bench / "lexical" / "dev"
    rows = list(csv.DictReader(open(folder / "gold.csv")))
    for r in rows:
        name = r["filename"] if r["filename"].endswith(".wav") else r["filename"] + ".wav"
        r["frames"] = frames_of(tok, load_audio(folder / name))
        r["units"] = dedup(r["frames"])[0]
    return rows


def consistency(rows: list[dict], seed: int, n_triplets: int) -> dict:
    good = {(r["id"], r["voice"]): r for r in rows if r["correct"] == "1"}
    bad = {(r["id"], r["voice"]): r for r in rows if r["correct"] == "0"}
    ids = sorted({i for i, _ in good})
    voices = sorted({v for _, v in good})
    rng = random.Random(seed)
    same, other, abx_w, abx_n = [], [], [], []
    for _ in range(n_triplets):
        w, w2 = rng.sample(ids, 2)
        v1, v2 = rng.sample(voices, 2)
        if (w, v1) not in good or (w, v2) not in good or (w2, v1) not in good or (w, v1) not in bad:
            continue
        a, x, b, nw = good[w, v1], good[w, v2], good[w2, v1], bad[w, v1]
        same.append(edit_distance(a["units"], x["units"]))
        other.append(edit_distance(a["units"], b["units"]))
        dax = dtw_distance(a["frames"], x["frames"])
        for d_b, acc in ((dtw_distance(b["frames"], x["frames"]), abx_w),
                         (dtw_distance(nw["frames"], x["frames"]), abx_n)):
            acc.append(1.0 if dax < d_b else 0.5 if dax == d_b else 0.0)
    return {"edit_same_word_other_voice": round(float(np.mean(same)), 4),
            "edit_other_word_same_voice": round(float(np.mean(other)), 4),
            "abx_word": round(float(np.mean(abx_w)), 4), "abx_nonword": round(float(np.mean(abx_n)), 4),
            "triplets": len(same)}


class KneserNey:
    """Interpolated Kneser-Ney n-gram LM over int sequences (BOS = -1 padding, EOS = -2)."""

    def __init__(self, seqs: list[np.ndarray], vocab: int, order: int = 3, discount: float = 0.75):
        self.n, self.d, self.vocab = order, discount, vocab + 1  # + EOS
        self.counts = [defaultdict(Counter) for _ in range(order)]  # [m][context] -> Counter(word)
        for s in seqs:
            toks = [-1] * (order - 1) + [int(t) for t in s] + [-2]
            for i in range(order - 1, len(toks)):
                self.counts[order - 1][tuple(toks[i - order + 1:i])][toks[i]] += 1
        for m in range(order - 1, 0, -1):  # continuation counts for lower orders
            for ctx, words in self.counts[m].items():
                for w in words:
                    self.counts[m - 1][ctx[1:]][w] += 1
        self.totals = [{c: (sum(ws.values()), len(ws)) for c, ws in level.items()} for level in self.counts]

    def prob(self, ctx: tuple, w: int) -> float:
        p = 1.0 / self.vocab
        for m in range(self.n):
            c = ctx[len(ctx) - m:] if m else ()
            total, types = self.totals[m].get(c, (0, 0))
            if total:
                p = (max(self.counts[m][c][w] - self.d, 0.0) + self.d * types * p) / total
        return p

    def score(self, seq: np.ndarray) -> tuple[float, float]:
        toks = [-1] * (self.n - 1) + [int(t) for t in seq] + [-2]
        lp = [math.log(self.prob(tuple(toks[i - self.n + 1:i]), toks[i])) for i in range(self.n - 1, len(toks))]
        return sum(lp) / len(lp), sum(lp)


def swuggy_accuracy(lm: KneserNey, rows: list[dict]) -> dict:
    out = {}
    for mode, idx in (("mean", 0), ("sum", 1)):
        groups: dict = defaultdict(lambda: ([], []))
        for r in rows:
            groups[r["id"], r["voice"]][r["correct"] == "1"].append(lm.score(r["units"])[idx])
        per_pair: dict = defaultdict(list)
        for (pid, _v), (bad, good) in groups.items():
            cmp = [1.0 if g > b else 0.5 if g == b else 0.0 for g in good for b in bad]
            per_pair[pid].append(np.mean(cmp))
        out[mode] = round(float(np.mean([np.mean(v) for v in per_pair.values()])), 4)
    return out


def usage(seqs: list[np.ndarray], voices: list[str], k: int, seconds: float) -> dict:
    units = np.concatenate(seqs).astype(np.int64)
    voice_ids = {v: i for i, v in enumerate(sorted(set(voices)))}
    labels = np.concatenate([np.full(len(s), voice_ids[v]) for s, v in zip(seqs, voices)])
    deduped = sum(len(dedup(s)[0]) for s in seqs)
    p = np.bincount(units) / len(units)
    p = p[p > 0]
    return {"units_used": int(len(p)), "k": k, "units_per_second": round(deduped / seconds, 2),
            "unit_perplexity": round(math.exp(float(-(p * np.log(p)).sum())), 1),
            "nmi_unit_voice": round(normalized_mi(units, labels), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--bench", type=Path, action="append", required=True)
    ap.add_argument("--tokdir", type=Path, help="evaluate this fitted tokenizer instead of fitting")
    ap.add_argument("--encoder", default='{"name": "mfcc"}', help="EncoderConfig fields as JSON")
    ap.add_argument("--projection", type=int, default=None, help="FitConfig.projection: PCA-whiten frames to this many dims before k-means")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--max-frames", type=int, default=60_000)
    ap.add_argument("--order", type=int, default=3)
    ap.add_argument("--triplets", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/unitq/tok"))
    ap.add_argument("--name", default=None)
    ap.add_argument("--smooth", type=int, default=0, help="prototype: passes of one-frame blip removal")
    args = ap.parse_args()
    t0 = time.perf_counter()
    SMOOTH[0] = args.smooth
    if args.tokdir is not None:
        tok = SpeechTokenizer.load(args.tokdir)
    else:
        key = json.dumps([args.encoder, args.k, args.projection, args.max_frames, args.seed], sort_keys=True)
        from slmscale.artifacts import sha256_json

        tok = fit_recipe(args.corpus, json.loads(args.encoder), args.k, args.seed, args.max_frames,
                         args.projection, args.cache / sha256_json(key)[:12])
    cfg: TokenizerConfig = tok.config
    seqs, voices, seconds, words = corpus_units(tok, args.corpus)
    train = [dedup(s)[0] for s in seqs]
    lm = KneserNey(train, tok.k, order=args.order)
    result = {"name": args.name, "tokenizer": cfg.model_dump(mode="json"), "usage": usage(seqs, voices, tok.k, seconds),
              "corpus_words": corpus_consistency(words, args.seed, args.triplets)}
    for bench in args.bench:
        rows = bench_units(tok, bench)
        result[bench.name] = {"voices": sorted({r["voice"] for r in rows}),
                              "consistency": consistency(rows, args.seed, args.triplets),
                              f"ngram{args.order}_swuggy": swuggy_accuracy(lm, rows)}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
