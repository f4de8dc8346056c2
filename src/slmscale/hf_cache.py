"""Model references: a local directory, or a Hugging Face model id already in the local cache.

Nothing is downloaded: an id resolves only when `huggingface-cli download ID` (or any earlier
`from_pretrained`) has put it in the cache ($HF_HUB_CACHE, default ~/.cache/huggingface/hub).
`ID@REVISION` picks a branch, tag or commit held in the cache.
"""

from __future__ import annotations

import re
from pathlib import Path

from slmscale.errors import UserError

_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


def resolve_model_dir(ref: str | Path, what: str = "--checkpoint") -> Path:
    """The absolute local directory behind `ref` (a folder, or a cached model id)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    text = str(ref)
    if path.exists() or not _MODEL_ID.match(text):
        raise UserError(f"{what} {ref}: not a directory (give a local model folder or a Hugging Face "
                        "model id such as facebook/hubert-base-ls960 that is in the local cache)")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    repo, _, revision = text.partition("@")
    try:
        return Path(snapshot_download(repo, revision=revision or None, local_files_only=True)).resolve()
    except (LocalEntryNotFoundError, HFValidationError, FileNotFoundError, OSError):
        raise UserError(f"{what} {ref}: neither a local folder nor a model in the Hugging Face cache "
                        f"({constants.HF_HUB_CACHE}); nothing is downloaded at run time: fetch it first "
                        f"(huggingface-cli download {repo}) or give its folder") from None
