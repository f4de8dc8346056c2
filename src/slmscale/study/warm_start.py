"""Starting models of interleaved runs: a finished text run's model with the speech vocabulary added.

An interleaved run's run.json holds `init`: {run_id, root (the text run's study folder), arm,
tokenizer (the text tokenizer dir), k, model (where the extended model goes)}. Before the run
trains, the text run's `final/` model is extended (`slmscale.model.extend.extend_vocabulary`,
deterministic and cached) into `model`, once per text run and K, shared by every interleaved run
of that size; a file lock keeps two workers from writing it at once. The result must give every
token the ids the interleaved shards were built with (`check_same_vocabulary`): this is the
assertion behind building one set of shards for all sizes.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from slmscale.errors import UserError
from slmscale.locks import waiting

INIT_DIR = "init"


def init_model_dir(study_dir: Path, init_run: str, k: int) -> Path:
    from slmscale.study.runstate import inside

    return inside(study_dir / INIT_DIR, f"{init_run}_k{k}")


def init_lock(model_dir: Path) -> AbstractContextManager[None]:
    """Exclusive lock for building one extended model (blocks until the holder is done)."""
    return waiting(model_dir.parent / f".{model_dir.name}.lock")


def build_init_model(init: dict[str, Any], shards: Path) -> Path:
    """Extend the init run's final model (cached) and check it against the shards; returns its dir."""
    from slmscale.data.shards import interleaved_tokenizer
    from slmscale.model.extend import extend_vocabulary
    from slmscale.text.interleaved_vocab import check_same_vocabulary

    model = Path(init["model"])
    final = Path(init["root"]) / "run" / "final"
    if not (final / "config.json").is_file():
        raise UserError(f"{final}: the init run {init['run_id']} has no final model; it must finish first")
    with init_lock(model):
        extend_vocabulary(final, model, int(init["k"]), tokenizer_dir=init["tokenizer"])
    check_same_vocabulary(model, interleaved_tokenizer(shards)["path"])
    return model


def extender_command(prefix: list[str] | None, init: dict[str, Any], shards: Path) -> list[str]:
    """The command that builds the starting model outside the worker (`slmscale model extend`)."""
    prefix = prefix or [sys.executable, "-m", "slmscale.cli.main", "model", "extend"]
    return [*prefix, "--model", str(Path(init["root"]) / "run"), "--tokenizer", str(init["tokenizer"]),
            "--units", str(int(init["k"])), "--out", str(init["model"]), "--check-shards", str(shards)]
