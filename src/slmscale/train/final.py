"""RUN/final: the finished model as a complete Hugging Face directory, written aside and renamed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from slmscale.artifacts import write_json
from slmscale.data.shards import Shards
from slmscale.errors import UserError


def save_final(run: Path, model: Any, state_dict: dict[str, Any], shards: Shards, shards_path: Path) -> None:
    """RUN/final: save_pretrained + slmscale.json, written aside and renamed into place."""
    tmp, final = run / ".final.tmp", run / "final"
    shutil.rmtree(tmp, ignore_errors=True)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(tmp, state_dict=state_dict)
        _copy_text_tokenizer(shards.meta.get("tokenizer") or {}, tmp)
        from slmscale.text.unit_tokenizer import complete_final_dir  # unit tokenizer, use_cache on

        complete_final_dir(tmp, shards.meta)
        write_json(tmp / "slmscale.json", {"vocab_size": shards.vocab_size,
                                           "special_tokens": shards.special_tokens,
                                           "modality": shards.meta.get("modality"),
                                           "tokenizer": run_tokenizer_info(shards.meta, shards_path),
                                           "shards": str(shards_path)})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # no half-written model left behind
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _copy_text_tokenizer(info: dict[str, Any], out: Path) -> None:
    """Text and interleaved runs: put the tokenizer next to the weights, so `final/` is a complete
    Hugging Face model directory (AutoTokenizer and AutoModelForCausalLM both load it)."""
    from slmscale.text.interleaved_vocab import VOCAB_FILE
    from slmscale.text.bpe import TOKENIZER_FILES

    if info.get("kind") not in ("text", "interleaved") or not info.get("path"):
        return
    src = Path(info["path"])
    for name in (*TOKENIZER_FILES, VOCAB_FILE):  # and the unit map of an extended tokenizer
        if (src / name).is_file():
            shutil.copy2(src / name, out / name)


def run_tokenizer_info(meta: dict[str, Any], where: str | Path = "shards") -> dict[str, Any]:
    """The `tokenizer` entry of RUN/final/slmscale.json: the shards' own, plus for interleaved shards
    `units_path` and `dedup` of the speech tokenizer (shards built before they carried them keep
    it under `units`), which evaluation needs next to `path` (the extended tokenizer)."""
    tok = dict(meta.get("tokenizer") or {})
    if meta.get("modality") == "interleaved":
        units = tok.get("units") or {}
        if not tok.get("units_path") and units.get("path"):
            tok["units_path"] = units["path"]
        if tok.get("dedup") is None and units.get("dedup") is not None:
            tok["dedup"] = units["dedup"]
        if not tok.get("units_path"):
            raise UserError(f"{where}/meta.json: interleaved shards do not name their speech tokenizer "
                            "(tokenizer.units_path); rebuild them with `slmscale data interleave`")
    return tok
