"""Cross-modal StoryCloze (SIMS): a story's context in one modality, its ending in the other.

  t2s  text context, spoken ending:  [EOS, <text>] context tokens [<speech>] | ending units [EOS]
  s2t  spoken context, text ending:  [EOS, <speech>] context units [<text>] | ending tokens [EOS]

Only the part after `|` is scored: the ending's log-likelihood given the context, with the softmax
restricted to the ending's modality (unit tokens + EOS for speech, the original text vocabulary for
text; see encoders.py). The good and the bad ending share the context, so comparing their
likelihoods is the task. `mean` (default) divides by the number of scored ending tokens (EOS
included), `sum` does not. Each segment is framed as slmscale.data.interleave frames it in
training: switch token, then content; text encoded on its own.

Folder layout (written by `slmscale synth bench`; real sets can be laid out the same way):

  <task folder>/crossmodal/index.csv        id,voice,context,correct,incorrect[,kind,story_id]
  <task folder>/crossmodal/<voice>/<id>_context.wav, <id>_ending_correct.wav, <id>_ending_incorrect.wav
  <task folder>/text.jsonl                  id, context, good_ending, bad_ending (one line per story)

index.csv paths are relative to crossmodal/. `crossmodal/text.jsonl`, when present, is read instead
of the task folder's. `voice` is the voice of the spoken part (ending for t2s, context for s2t).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from slmscale.artifacts import iter_jsonl
from slmscale.errors import UserError
from slmscale.eval.protocols import DEFAULT_TRUNCATION
from slmscale.eval.formats import (CROSS_DIR, CROSS_TASKS, GROUP_FIELDS, TASK_DIRS, TEXT_FILE, Benchmark,
                                   Pair, _mismatch, _read_csv)

CROSS_INDEX_COLUMNS = ["id", "voice", "context", "correct", "incorrect"]
TEXT_FIELDS = ("context", "good_ending", "bad_ending")
SPLIT = "crossmodal"


class CrossEncoders(NamedTuple):
    """The two sides of an interleaved run; each needs `switch_token` (its modality's switch id).
    A None side is built from the run."""

    speech: Any = None
    text: Any = None


@dataclass
class CrossBench:
    task: str                   # e.g. sstorycloze_t2s
    base: str                   # ssc | tsc (breakdowns, headline)
    direction: str              # t2s | s2t
    source: Path                # the crossmodal folder
    pairs: list[Pair]           # good / bad = item keys
    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # item -> (context key, ending key)
    audio: dict[str, Path] = field(default_factory=dict)   # audio key -> wav
    texts: dict[str, str] = field(default_factory=dict)    # text key -> text
    split: str = SPLIT


def _missing(bench: Path, task: str) -> UserError:
    base, _ = next(k for k, v in CROSS_TASKS.items() if v == task)
    root = bench
    while root.name in (CROSS_DIR, TASK_DIRS[base]) and root.parent != root:
        root = root.parent  # the synthetic benchmark root that `synth bench --out` takes
    name = {"ssc": "sstorycloze", "tsc": "tstorycloze"}[base]
    return UserError(f"{bench}: this benchmark has no cross-modal files ({TASK_DIRS[base]}/{CROSS_DIR}/"
                     f"index.csv); rebuild with `slmscale synth bench --out {root} --task {name}` or add "
                     "them (layout: docs/eval.md)")


def locate_crossmodal(bench: str | Path, task: str) -> Path:
    """The crossmodal folder of a StoryCloze task under a benchmark root, a task folder, or itself."""
    bench = Path(bench)
    base, _ = next(k for k, v in CROSS_TASKS.items() if v == task)
    if not bench.exists():
        raise UserError(f"{bench}: benchmark folder not found")
    for cand in (bench / TASK_DIRS[base] / CROSS_DIR, bench / CROSS_DIR, bench):
        if (cand / "index.csv").is_file() and cand.name == CROSS_DIR:
            return cand
    raise _missing(bench, task)


def read_cloze_texts(path: Path) -> dict[str, tuple[str, str, str]]:
    """id -> (context, good ending, bad ending) from a StoryCloze text.jsonl."""
    out: dict[str, tuple[str, str, str]] = {}
    for n, rec in iter_jsonl(path):
        if not isinstance(rec, dict) or "id" not in rec or not all(isinstance(rec.get(k), str)
                                                                  for k in TEXT_FIELDS):
            raise UserError(f"{path}:{n}: cross-modal StoryCloze needs fields id, "
                            f"{', '.join(TEXT_FIELDS)}; rebuild with `slmscale synth bench` or add them")
        out[str(rec["id"])] = (rec["context"], rec["good_ending"], rec["bad_ending"])
    return out


def read_crossmodal(folder: str | Path, task: str) -> CrossBench:
    """Read a crossmodal folder (index.csv + wavs) and its StoryCloze text for `task`."""
    folder = Path(folder)
    (base, direction) = next(k for k, v in CROSS_TASKS.items() if v == task)
    index = folder / "index.csv"
    if not index.is_file():
        raise _missing(folder, task)
    text_path = next((p for p in (folder / TEXT_FILE, folder.parent / TEXT_FILE) if p.is_file()), None)
    if text_path is None:
        raise UserError(f"{folder}: no {TEXT_FILE} here or in {folder.parent} (the text of the contexts "
                        "and endings); rebuild with `slmscale synth bench` or add it")
    texts = read_cloze_texts(text_path)
    rows = _read_csv(index, CROSS_INDEX_COLUMNS)
    wavs = {p.relative_to(folder).with_suffix("").as_posix(): p for p in folder.rglob("*.wav")}
    named: set[str] = set()
    seen: set[tuple[str, str]] = set()
    unknown = sorted({r["id"] for r in rows if r["id"] not in texts})
    if unknown:
        raise UserError(f"{index}: {len(unknown)} id(s) absent from {text_path}: {', '.join(unknown[:8])}")
    bench = CrossBench(task=task, base=base, direction=direction, source=folder, pairs=[])
    for n, r in enumerate(rows, 2):
        if (r["id"], r["voice"]) in seen:
            raise UserError(f"{index}:{n}: id {r['id']!r} with voice {r['voice']!r} repeats")
        seen.add((r["id"], r["voice"]))
        ctx, good, bad = (Path(r[c]).with_suffix("").as_posix() for c in ("context", "correct", "incorrect"))
        named.update((ctx, good, bad))
        stem = f"{r['voice']}/{r['id']}"
        if direction == "t2s":  # shared text context, ending audio per voice
            bench.texts[f"{r['id']}/context"] = texts[r["id"]][0]
            bench.items[f"{stem}_correct"] = (f"{r['id']}/context", good)
            bench.items[f"{stem}_incorrect"] = (f"{r['id']}/context", bad)
            bench.audio.update({good: wavs.get(good), bad: wavs.get(bad)})
        else:  # context audio per voice, shared text endings
            bench.texts[f"{r['id']}/good"] = texts[r["id"]][1]
            bench.texts[f"{r['id']}/bad"] = texts[r["id"]][2]
            bench.items[f"{stem}_correct"] = (ctx, f"{r['id']}/good")
            bench.items[f"{stem}_incorrect"] = (ctx, f"{r['id']}/bad")
            bench.audio[ctx] = wavs.get(ctx)
        group = {k: r[k] for k in GROUP_FIELDS[base] if r.get(k)}
        bench.pairs.append(Pair(r["id"], r["voice"], f"{stem}_correct", f"{stem}_incorrect", group))
    _mismatch(folder, named - set(wavs), set(wavs) - named, "index.csv")
    if not bench.pairs:
        raise UserError(f"{index}: no rows")
    return bench


def item_frame(direction: str, encoders: CrossEncoders) -> tuple[list[int], int, list[int], Any]:
    """(prefix, switch token closing the context, suffix, allowed ending tokens) of a direction.
    A scored sequence is prefix + context + [switch] + ending + suffix; ending + suffix is scored."""
    first, second = (encoders.text, encoders.speech) if direction == "t2s" else (encoders.speech, encoders.text)
    return list(first.prefix), int(second.switch_token), list(second.suffix), second.allowed_tokens


def score_crossmodal(model: Any, bench: CrossBench, encoders: CrossEncoders, normalize: str | None = None,
                     batch_size: int = 64, cache_dir: Path | None = None, max_length: int | None = None,
                     protocol: str | None = None, truncation: str = DEFAULT_TRUNCATION) -> dict[str, Any]:
    """Ending scores per item key and the task summary (as run.score_benchmark returns). The
    protocol (eval.protocols) decides the terminal EOS, the normalisation, whether the context is
    scored too (slamkit) and whether the softmax is restricted to the ending's modality."""
    from slmscale.eval.cache import encode_benchmark
    from slmscale.eval.loglik import check_lengths, sequence_loglik
    from slmscale.eval.protocols import get_protocol
    from slmscale.eval.scoring import summarize_pairs

    proto = get_protocol(protocol)
    normalize = proto.resolve_normalize(normalize)

    speech, text = encoders
    for side, enc in (("speech", speech), ("text", text)):
        if getattr(enc, "switch_token", None) is None:
            raise UserError(f"cross-modal {bench.task}: the {side} encoder has no modality switch token "
                            "(an interleaved run's encoders have one)")
    audio = Benchmark(task=bench.task, split=f"{SPLIT}-audio", source=bench.source, pairs=[],
                      audio=dict(bench.audio))
    words = Benchmark(task=bench.task, split=f"{SPLIT}-text", source=bench.source, pairs=[],
                      texts=dict(bench.texts))
    a_tok, failed, a_cached = encode_benchmark(audio, speech, cache_dir)
    t_tok, t_failed, t_cached = encode_benchmark(words, text, cache_dir)
    failed = sorted(failed + t_failed)
    ctx_tok, end_tok = (t_tok, a_tok) if bench.direction == "t2s" else (a_tok, t_tok)
    prefix, switch, suffix, allowed = item_frame(bench.direction, CrossEncoders(speech, text))
    keys = sorted(k for k, (c, e) in bench.items.items() if c in ctx_tok and e in end_tok)
    contexts = [list(ctx_tok[bench.items[k][0]]) + [switch] for k in keys]
    endings = [end_tok[bench.items[k][1]] for k in keys]
    suffix = suffix if proto.eos else []
    allowed = allowed if proto.restrict else None
    max_len = max_length if max_length is not None else getattr(model.config, "max_position_embeddings", None)
    check_lengths(bench.task, [len(prefix) + len(c) + len(e) + len(suffix) for c, e in zip(contexts, endings)],
                  max_len, truncation)
    t0 = time.perf_counter()
    if proto.score_context:  # the whole sequence is scored: the context becomes part of the content
        ll = sequence_loglik(model, [list(c) + list(e) for c, e in zip(contexts, endings)], prefix=prefix,
                             suffix=suffix, batch_size=batch_size, allowed_tokens=None, max_length=max_len,
                             slide=truncation == "slide", progress=f"scoring {bench.task}")
    else:
        ll = sequence_loglik(model, endings, prefix=prefix, contexts=contexts, suffix=suffix,
                             batch_size=batch_size, allowed_tokens=allowed, max_length=max_len,
                             slide=truncation == "slide", progress=f"scoring {bench.task}")
    # Baseline: the same endings with no context, framed as a document of the ending's modality
    # ([EOS, switch] + ending + EOS). Accuracy above it is what the context contributes; an ending
    # that is simply more probable on its own scores well on both.
    alone = sequence_loglik(model, endings, prefix=prefix[:1], contexts=[[switch]] * len(keys), suffix=suffix,
                            batch_size=batch_size, allowed_tokens=allowed, max_length=max_len,
                            slide=truncation == "slide", progress=f"scoring {bench.task} (endings alone)")
    score_s = time.perf_counter() - t0
    scores = dict(zip(keys, ll.scores(normalize).tolist()))
    baseline = summarize_pairs(bench.base, bench.source, bench.pairs,
                               dict(zip(keys, alone.scores(normalize).tolist())), failed)
    summary = summarize_pairs(bench.base, bench.source, bench.pairs, scores, failed)
    summary["ending_only_accuracy"] = baseline["accuracy"]
    summary["context_gain"] = summary["accuracy"] - baseline["accuracy"]
    summary.update({
        "protocol": proto.name, "protocol_detail": proto.to_dict(), "truncation": truncation,
        "normalize": normalize, "split": bench.split, "modality": "crossmodal",
        "direction": bench.direction, "bench": str(bench.source), "n_items": len(keys),
        "unreadable_items": failed, "truncated_items": ll.truncated, "max_length": max_len,
        "tokens_cached": a_cached and t_cached, "scored_tokens": int(ll.count.sum()),
        "score_seconds": round(score_s, 3),
        "utterances_per_s": round(len(keys) / score_s, 1) if score_s > 0 else None,
    })
    summary["headline"] = summary["accuracy"]
    return {"scores": scores, "summary": summary}
