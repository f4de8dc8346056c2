"""What a run starts from, in compute, and what share of its tokens is speech.

`init_compute(init_from)`: when a run starts from a model that slmscale trained (a RUN dir, its
`final/`, or a vocabulary extension of one), the compute already spent on that model, read from the
source run's summary.json (its `flops`, plus its own `init_flops` when it too started from a run).
Studies report interleaved SLMs both ways: training compute only, and training + text pre-training.
A model from elsewhere (e.g. a downloaded text LM) has unknown pre-training compute: None.

`speech_tokens_trained(...)`: the exact number of speech tokens among the tokens a run is trained on
(the targets of the packed stream), counted from the shards' per-document counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import read_json

_MAX_DEPTH = 8  # run -> extension -> run -> ...: a cycle would be a bug, not a lineage


def _source_run(path: Path) -> Path | None:
    """The slmscale RUN dir a model directory comes from, following vocabulary extensions."""
    for _ in range(_MAX_DEPTH):
        meta = path / "meta.json"
        if (path / "speech_vocab.json").is_file() and meta.is_file():
            src = read_json(meta).get("source")  # extended-lm meta: the model it was made from
            if not src:
                return None
            path = Path(src)
            continue
        if path.name == "final" and (path.parent / "summary.json").is_file():
            return path.parent
        if (path / "summary.json").is_file() and (path / "final").is_dir():
            return path
        return None
    return None


def init_compute(init_from: str | Path | None) -> dict[str, Any]:
    """Summary keys describing the starting model's compute.

    `init_flops` / `init_flops_full`: 0 for a model trained from scratch; the source run's total
    compute (its flops + its own init_flops) when `init_from` traces back to a finished slmscale run;
    None when it does not (compute unknown). `init_run`: that run's directory, `init_run_id` its id.
    """
    if not init_from:
        return {"init_flops": 0.0, "init_flops_full": 0.0, "init_run": None, "init_run_id": None}
    run = _source_run(Path(init_from).resolve())
    unknown = {"init_flops": None, "init_flops_full": None, "init_run": None, "init_run_id": None}
    if run is None:
        return unknown
    summary = read_json(run / "summary.json")
    if summary.get("status") != "finished" or summary.get("flops") is None:
        return unknown

    def total(key: str, init_key: str) -> float | None:
        own, before = summary.get(key), summary.get(init_key, 0.0)
        return None if own is None or before is None else float(own) + float(before)

    return {"init_flops": total("flops", "init_flops"), "init_flops_full": total("flops_full", "init_flops_full"),
            "init_run": str(run), "init_run_id": summary.get("run_id")}


def speech_counter(shards: Any) -> tuple[np.ndarray, Any] | None:
    """(speech tokens per document, counter for a document prefix), or None for text-only shards.

    Units and unigram shards: every document token is speech (EOS separators are not). Interleaved
    shards: the unit tokens (ids unit_offset .. unit_offset + k - 1); documents carry their count."""
    modality = shards.meta.get("modality")
    if modality in ("units", "unigram"):
        return shards.lengths, lambda i, n: n
    if modality != "interleaved":
        return None
    tok = shards.meta.get("tokenizer") or {}
    lo = int(tok.get("unit_offset", shards.meta.get("unit_offset", 0)))
    hi = lo + int(tok.get("k", 0))
    per_doc = np.array([int(d.get("speech_tokens", 0)) for d in shards.docs], dtype=np.int64)

    def in_doc(i: int, n: int) -> int:
        toks = shards.doc(i)[:n]
        return int(np.count_nonzero((toks >= lo) & (toks < hi)))

    return per_doc, in_doc


def speech_tokens_trained(stream: Any, shards: Any, tokens: int) -> int:
    """Speech tokens among the `tokens` training targets (stream positions 1 .. tokens)."""
    counter = speech_counter(shards)
    if counter is None:
        return 0
    per_doc, in_doc = counter
    # Targets are the stream shifted by one: positions [1, tokens]; the very first token is input only.
    return stream.count_prefix(tokens + 1, per_doc, in_doc) - stream.count_prefix(1, per_doc, in_doc)
