"""Parameter counts: N (non-embedding, the scaling-law N) and N_total (every unique parameter)."""

from __future__ import annotations

from typing import Any


def param_counts(model: Any) -> tuple[int, int]:
    """(N, N_total). N leaves out the input embedding and the output head (tied or not)."""
    emb = {id(model.get_input_embeddings().weight)}
    out = model.get_output_embeddings()
    if out is not None:
        emb.add(id(out.weight))
    seen: set[int] = set()
    n = n_total = 0
    for p in model.parameters():  # parameters() yields tied tensors once
        if id(p) in seen:
            continue
        seen.add(id(p))
        n_total += p.numel()
        if id(p) not in emb:
            n += p.numel()
    return n, n_total
