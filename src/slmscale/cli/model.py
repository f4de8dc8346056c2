"""`slmscale model extend`: add speech-unit and modality-switch tokens to a text LM (SIMS init)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from slmscale.errors import UserError

model_app = typer.Typer(help="Prepare models: extend a text LM's vocabulary with speech units.",
                        no_args_is_help=True)

def units_k(units: str) -> int:
    """K from `--units`: a number, a speech tokenizer dir (`units fit`) or unit shards (`units encode`)."""
    from slmscale.artifacts import read_json

    if units.strip().isdigit():
        return int(units)
    path = Path(units)
    meta = path / "meta.json"
    if not meta.is_file():
        raise UserError(f"--units {units}: give K (a number), a speech tokenizer dir or unit shards")
    m = read_json(meta)
    if m.get("kind") == "speech-tokenizer" and m.get("k"):
        return int(m["k"])
    if m.get("kind") == "shards" and m.get("modality") == "units" and (m.get("tokenizer") or {}).get("k"):
        return int(m["tokenizer"]["k"])
    raise UserError(f"--units {units}: not a speech tokenizer or unit shards (meta.json kind "
                    f"{m.get('kind')!r}); give K as a number instead")


def resolve_model(model: Path) -> Path:
    """A slmscale RUN dir stands for its final/ model."""
    if (model / "final" / "config.json").is_file() and not (model / "config.json").is_file():
        return model / "final"
    return model


def default_tokenizer(model: Path) -> Path:
    """The model dir itself when it holds a tokenizer; for a slmscale run's final/ model, the text
    tokenizer its training shards were made with (slmscale.json)."""
    from slmscale.artifacts import read_json
    from slmscale.text.bpe import TOKENIZER_FILES

    if any((model / f).is_file() for f in TOKENIZER_FILES):
        return model
    info = model / "slmscale.json"
    if info.is_file():
        tok = read_json(info).get("tokenizer") or {}
        if tok.get("kind") == "text" and tok.get("path"):
            return Path(tok["path"])
        raise UserError(f"--model {model}: trained on {tok.get('kind') or 'non-text'} tokens, not text; "
                        "extend a text LM")
    raise UserError(f"--model {model}: no tokenizer files here; give --tokenizer DIR")


@model_app.command("extend")
def extend_cmd(
    model: Optional[Path] = typer.Option(None, "--model", help="Local Hugging Face causal LM dir, or a "
                                         "`slmscale train` RUN dir (its final/ model). Leave out to "
                                         "extend only the tokenizer."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="Text tokenizer dir (default: the "
                                             "model dir, or for a slmscale run the tokenizer of its "
                                             "text shards)."),
    units: str = typer.Option(..., "--units", help="Number of unit tokens K, or a speech tokenizer dir / "
                              "unit shards to take K from."),
    out: Path = typer.Option(..., "--out", help="Output dir: extended model + tokenizer, speech_vocab.json."),
    unit_format: str = typer.Option("<u{}>", "--unit-format", help="Token string of unit u."),
    check_shards: Optional[Path] = typer.Option(None, "--check-shards", help="Interleaved shards: fail "
                                                "unless the result gives every token the ids these "
                                                "shards were built with."),
    force: bool = typer.Option(False, "--force", help="Redo even when the cache says up to date."),
) -> None:
    """Add K unit tokens <u0>..<u{K-1}> and the switch tokens <speech>, <text> after the text
    vocabulary. New embedding rows (input and output) start as the mean of the original vocabulary's
    rows, so text logits are unchanged and each new token starts at the mean text logit."""
    from slmscale.model.extend import extend_vocabulary
    from slmscale.text.interleaved_vocab import check_same_vocabulary, extend_tokenizer
    from slmscale.progress import info

    k = units_k(units)
    if k < 1:
        raise UserError(f"--units {units}: need at least one unit token")
    shards_tok = None
    if check_shards is not None:  # checked before any work
        from slmscale.data.shards import interleaved_tokenizer

        shards_tok = interleaved_tokenizer(check_shards, "--check-shards ")["path"]
    if model is None:
        if tokenizer is None:
            raise UserError("give --model (and optionally --tokenizer), or --tokenizer alone to extend "
                            "only the tokenizer")
        vocab = extend_tokenizer(tokenizer, out, k, unit_format=unit_format, force=force)
        what = "tokenizer"
    else:
        model = resolve_model(model)
        tok = tokenizer if tokenizer is not None else default_tokenizer(model)
        vocab = extend_vocabulary(model, out, k, unit_format=unit_format, tokenizer_dir=tok, force=force)
        what = "model"
    if shards_tok is not None:
        check_same_vocabulary(out, shards_tok)
    info(f"{out}: extended {what}: {vocab.original_size} text tokens + {vocab.k} units (ids "
         f"{vocab.unit_offset}..{vocab.unit_offset + vocab.k - 1}), <speech> {vocab.speech_token_id}, "
         f"<text> {vocab.text_token_id}; {vocab.embedding_rows} embedding rows")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(model_app, name="model")
