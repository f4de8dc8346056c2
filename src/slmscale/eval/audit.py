"""Audit a benchmark folder against knowledge-free surface baselines (`slmscale bench audit DIR`).

For each task folder found (official ZeroSpeech 2021 / Spoken StoryCloze layout, or a synthetic
build), every baseline of `text.surface` answers every pair, plus `length_seconds` (the shorter
recording wins, averaged over voices) when the audio is there. Accuracy is reported overall and
per group (sBLIMP phenomenon, sWUGGY frequency band, StoryCloze wrong-ending kind). A valid
benchmark keeps every baseline within `BOUND` of 0.5 (or one pair's worth, 1/n, for n < 1/BOUND):
overall for every task, and per phenomenon for sBLIMP and per frequency band for sWUGGY;
`within_bounds` says whether it does, `strongest` names the best baseline (the line a model must
beat; the study report draws it) with its outcome on every pair (`by_pair`, which `slmscale eval`
uses to compare a model with it, paired). `strongest_baseline(BENCH, task)` reads it back.

Texts come from `text.jsonl` (synthetic builds; it carries the sWUGGY phones and the StoryCloze
contexts), else from gold.csv (`word` / `transcription`); a StoryCloze folder without text gets the
audio baseline only. Frequencies and phone n-grams come from a training corpus: `corpus` (a text
file, one document per line, or JSONL with a "text" field), else the synthetic corpus of the
build's seed (meta.json); without either only the length baselines run. sWUGGY's n-grams leave the
benchmark's own words out, so they cannot have memorised them.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from slmscale.artifacts import iter_jsonl, read_json
from slmscale.errors import UserError
from slmscale.eval.formats import TASK_DIRS, TEXT_FILE, TASKS, load_benchmark
from slmscale.text.grammar import split_words
from slmscale.text.surface import CHANCE_BOUND, SurfaceModel, accuracies, compare, outcomes, warm

BOUND = CHANCE_BOUND
AUDIT_FILE = "audit.json"  # next to each task of a synthetic build, or at a benchmark root
GROUP_KEY = {"swuggy": "frequency", "sblimp": "phenomenon", "ssc": "kind", "tsc": "kind"}
STRICT_GROUPS = {"sblimp", "swuggy"}  # tasks whose every group must be within the bound too


def corpus_counts(bench: Path, corpus: Path | None = None) -> tuple[Counter[str] | None, str]:
    """Word counts of the training corpus, and where they came from."""
    if corpus is not None:
        if not corpus.is_file():
            raise UserError(f"{corpus}: corpus file not found (give a text file, one document per line, or JSONL)")
        counts: Counter[str] = Counter()
        if corpus.suffix == ".jsonl":
            for n, rec in iter_jsonl(corpus):
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    raise UserError(f"{corpus}:{n}: needs a string field 'text'")
                counts.update(split_words(rec["text"]))
        else:
            with open(corpus, encoding="utf-8") as fh:
                for line in fh:
                    counts.update(split_words(line))
        return counts, str(corpus)
    meta = bench / "meta.json"
    if meta.is_file():
        m = read_json(meta)
        if str(m.get("kind", "")).startswith("synthetic-bench"):
            from slmscale.text.pairs import word_counts

            seed = int((m.get("config") or {}).get("seed", 0))
            return word_counts(seed), f"synthetic corpus, seed {seed}"
    return None, "none (frequency and n-gram baselines skipped; give --corpus)"


def _text_records(folder: Path, task: str) -> list[dict[str, Any]]:
    """Per pair: id, good, bad, group, and optionally phones_good/phones_bad, context."""
    path = folder / TEXT_FILE
    out = []
    if path.is_file():
        for _, rec in iter_jsonl(path):
            r = {"id": str(rec.get("id")), "good": rec.get("good_ending", rec["sentence_good"]),
                 "bad": rec.get("bad_ending", rec["sentence_bad"]), "context": rec.get("context"),
                 "group": str(rec.get(GROUP_KEY[task], rec.get("type", "")) or "")}
            for k in ("phones_good", "phones_bad"):
                if rec.get(k):
                    r[k] = [tuple(rec[k].split())]
            out.append(r)
        return out
    if task not in ("swuggy", "sblimp"):
        return []
    gold = next(iter(sorted(folder.rglob("gold.csv"))), None)
    if gold is None:
        return []
    import csv

    by_id: dict[str, dict[str, Any]] = {}
    with open(gold, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec = by_id.setdefault(row["id"], {"id": row["id"], "context": None, "group": ""})
            text = row.get("word") if task == "swuggy" else row.get("transcription")
            side = "good" if row["correct"].strip() in ("1", "True", "true") else "bad"
            rec.setdefault(side, text or "")
            if side == "good":
                rec["group"] = row.get("frequency" if task == "swuggy" else "type", "") or ""
    return [r for r in by_id.values() if r.get("good") and r.get("bad")]


def _durations(bench: Path, task: str, split: str) -> dict[str, float] | None:
    """pair id -> length_seconds outcome (shorter wins), averaged over voices; None without audio."""
    import soundfile as sf

    try:
        b = load_benchmark(bench, task, split)
    except UserError:
        return None
    per: dict[str, list[float]] = defaultdict(list)
    secs: dict[str, float] = {}
    for p in b.pairs:
        for k in (p.good, p.bad):
            if k not in secs:
                secs[k] = sf.info(str(b.audio[k])).duration
        per[p.pair_id].append(compare(-secs[p.good], -secs[p.bad]))
    return {pid: sum(v) / len(v) for pid, v in per.items()}


def audit_task(bench: Path, task: str, counts: Counter[str] | None, split: str = "dev") -> dict[str, Any] | None:
    """Baseline accuracies of one task folder, or None when the folder is absent."""
    folder = bench / TASK_DIRS[task]
    if not folder.is_dir():
        if (bench / TEXT_FILE).is_file() or (bench / "gold.csv").is_file():
            folder = bench  # the task folder itself was given
        else:
            return None
    records = _text_records(folder, task)
    seconds = _durations(bench, task, split)
    if not records and seconds is None:
        return None
    surface = None
    if counts is not None and records:
        exclude = {r["good"] for r in records} if task == "swuggy" else ()
        surface = SurfaceModel.from_counts(counts, exclude=exclude)
    warm(" ".join(filter(None, (r["good"], r["bad"], r.get("context")))) for r in records
         if "phones_good" not in r)
    rows: list[tuple[str, dict[str, float]]] = []
    ids = [r["id"] for r in records] or sorted(seconds or {})
    by_id = {r["id"]: r for r in records}
    for pid in ids:
        r = by_id.get(pid)
        res: dict[str, float] = {}
        if r is not None:
            res = _text_outcomes(r, surface, task)
        if seconds is not None and pid in seconds:
            res["length_seconds"] = seconds[pid]
        rows.append((r["group"] if r else "", res))
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for g, res in rows:
        groups[g].append(res)
    overall = accuracies(res for _, res in rows)
    by_group = {g: accuracies(rs) for g, rs in sorted(groups.items()) if g}
    # One pair's tip is 1/n of the accuracy; a group smaller than 1/BOUND gets that much slack.
    checked = [(overall, len(rows))] + ([(by_group[g], len(groups[g])) for g in by_group]
                                        if task in STRICT_GROUPS else [])
    deviation = max((abs(a - 0.5) for accs, _ in checked for a in accs.values()), default=0.0)
    excess = max((abs(a - 0.5) - max(BOUND, 1 / n) for accs, n in checked for a in accs.values()), default=0.0)
    strongest = max(overall.items(), key=lambda kv: (kv[1], kv[0])) if overall else ("", math.nan)
    # Its outcome on each pair lets `slmscale eval` compare a model with it pair by pair.
    by_pair = {pid: res[strongest[0]] for pid, (_, res) in zip(ids, rows) if strongest[0] in res}
    return {"task": task, "n_pairs": len(rows), "baselines": overall, "by_group": by_group,
            "group_key": GROUP_KEY[task],
            "strongest": {"baseline": strongest[0], "accuracy": strongest[1], "by_pair": by_pair},
            "max_deviation": deviation, "bound": BOUND, "within_bounds": excess <= 1e-9}


def _text_outcomes(r: dict[str, Any], surface: SurfaceModel | None, task: str) -> dict[str, float]:
    known = task != "swuggy"  # word frequency would just say "this is a word"
    if surface is None:  # length only
        from slmscale.text.phonemes import phonemize

        def n_phones(text: str, phones: Any) -> float:
            ws = split_words(text)
            return -float(sum(len(p) for p in (phones or [phonemize(ws)[w] for w in ws])))
        return {"length_phones": compare(n_phones(r["good"], r.get("phones_good")),
                                         n_phones(r["bad"], r.get("phones_bad")))}
    good = surface.features(r["good"], r.get("phones_good"), r.get("context"), known)
    bad = surface.features(r["bad"], r.get("phones_bad"), r.get("context"), known)
    return outcomes(good, bad)


def audit_bench(bench: str | Path, corpus: str | Path | None = None, split: str = "dev",
                tasks: list[str] | None = None) -> dict[str, Any]:
    """Audit every task folder under `bench`; raises when none is found."""
    bench = Path(bench)
    if not bench.is_dir():
        raise UserError(f"{bench}: benchmark folder not found")
    counts, source = corpus_counts(bench, Path(corpus) if corpus else None)
    out: dict[str, Any] = {"bench": str(bench), "corpus": source, "bound": BOUND, "tasks": {}}
    for task in tasks or TASKS:
        res = audit_task(bench, task, counts, split)
        if res is not None:
            out["tasks"][task] = res
    if not out["tasks"]:
        raise UserError(f"{bench}: no benchmark task folders (lexical/, syntactic/, sStoryCloze/, tStoryCloze/)")
    out["within_bounds"] = all(t["within_bounds"] for t in out["tasks"].values())
    return out


def format_table(report: dict[str, Any]) -> str:
    """One line per task and group: each baseline's accuracy, the strongest, and the verdict."""
    lines = [f"corpus: {report['corpus']}"]
    for task, t in report["tasks"].items():
        s = t["strongest"]
        verdict = "ok" if t["within_bounds"] else f"OUT OF BOUNDS (max |acc-0.5| = {t['max_deviation']:.3f})"
        lines.append(f"{task}: {t['n_pairs']} pairs, strongest {s['baseline']} {s['accuracy']:.3f}  {verdict}")
        lines.append("  all: " + "  ".join(f"{k} {v:.2f}" for k, v in t["baselines"].items()))
        for g, accs in t["by_group"].items():
            lines.append(f"  {g}: " + "  ".join(f"{k} {v:.2f}" for k, v in accs.items()))
    return "\n".join(lines)


def markdown(report: dict[str, Any], keys: tuple[str, ...] = ("length_phones", "length_seconds",
                                                               "word_unigram_mean", "phone_2gram_sum",
                                                               "phone_3gram_mean", "phone_4gram_sum",
                                                               "overlap_mean")) -> str:
    """The audit as a Markdown table: one row per task and group, a column per main baseline plus
    the largest deviation from 0.5 over all baselines."""
    head = "| task | group | pairs | " + " | ".join(keys) + " | max abs(acc - 0.5) |"
    lines = [head, "|" + "---|" * (len(keys) + 4)]
    for task, t in report["tasks"].items():
        rows = [("all", t["n_pairs"], t["baselines"])] + [(g, None, a) for g, a in t["by_group"].items()]
        for g, n, accs in rows:
            cells = [f"{accs[k]:.2f}" if k in accs else "–" for k in keys]
            dev = max(abs(v - 0.5) for v in accs.values()) if accs else float("nan")
            lines.append(f"| {task} | {g} | {n if n is not None else ''} | " + " | ".join(cells) + f" | {dev:.2f} |")
    return "\n".join(lines)


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, sort_keys=True)


def strongest_baseline(bench: str | Path, task: str) -> dict[str, Any] | None:
    """The audit's strongest baseline of `task` for a benchmark, with the file it came from: the
    task folder's audit.json (written by `slmscale synth bench`) or the root's (`slmscale bench
    audit BENCH`), preferring one that has the per-pair outcomes (audits before they were recorded
    lack them). None when no audit covers the task; an audit file without a strongest baseline for
    it is an error naming the file."""
    bench = Path(bench)
    folder = bench / TASK_DIRS[task]
    if not folder.is_dir():  # BENCH is the task folder itself
        folder, bench = bench, bench.parent
    found = []
    for path in (folder / AUDIT_FILE, bench / AUDIT_FILE):
        if not path.is_file():
            continue
        rec = read_json(path)
        if isinstance(rec, dict) and "tasks" in rec:  # a benchmark audit: one record per task
            rec = (rec.get("tasks") or {}).get(task)
        if not isinstance(rec, dict) or rec.get("task") != task:
            continue
        strongest = rec.get("strongest")
        if not isinstance(strongest, dict) or not isinstance(strongest.get("accuracy"), (int, float)):
            raise UserError(f"{path}: task {task!r} has no 'strongest' {{baseline, accuracy}}; "
                            f"re-run `slmscale bench audit {bench}`")
        if not math.isnan(strongest["accuracy"]):
            found.append({**strongest, "n_pairs": rec.get("n_pairs"), "source": str(path)})
    return next((f for f in found if f.get("by_pair")), found[0] if found else None)
