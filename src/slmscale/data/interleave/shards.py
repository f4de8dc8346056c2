"""`build_interleaved_shards`: manifest + units + extended tokenizer -> mixed shards (skipped when fresh)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from slmscale.data.interleave.config import STREAMS, InterleaveConfig
from slmscale.data.interleave.documents import Doc, build_documents, select_mix, split_seed
from slmscale.data.interleave.units import UnitTable, units_from_shards
from slmscale.errors import UserError


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
