"""Model size ladder: the paper presets, a CPU ladder, and a rule for any size in between.

Every preset is a Llama-style decoder (RMSNorm, RoPE, SwiGLU, untied input/output embeddings).
Non-embedding parameters per layer: 4·d² (attention, no biases) + 3·d·f (SwiGLU) + 2·d (norms).

Shape rule for an arbitrary target N (`shape_for_params`), used for the CPU ladder too:
  * depth L = max(1, round((N / 51 200)^(1/3))), i.e. width ≈ 64·L (an aspect ratio between the
    paper's 20M (85) and 309M (43) models);
  * width d solves L·(4d² + 3·d·f(d)) = N and is rounded to a multiple of the head size
    (32 below d = 512, else 64); heads = d / head size;
  * SwiGLU hidden f(d) = 8/3·d rounded up to a multiple of 256 for d ≥ 512 (as in the paper),
    of 32 below (256 would dwarf a 64-wide model).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from slmscale.errors import UserError


@dataclass(frozen=True)
class ModelShape:
    n_layers: int
    d_model: int
    n_heads: int
    ffn: int  # SwiGLU hidden size

    @property
    def non_embedding_params(self) -> int:
        """N for this shape (independent of vocabulary size)."""
        d, f = self.d_model, self.ffn
        return self.n_layers * (4 * d * d + 3 * d * f + 2 * d) + d

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def ffn_size(d_model: int) -> int:
    multiple = 256 if d_model >= 512 else 32
    return multiple * math.ceil(8 * d_model / 3 / multiple)


def head_size(d_model: int) -> int:
    return 64 if d_model >= 512 else 32 if d_model >= 64 else 16


def _shape(n_layers: int, d_model: int, n_heads: int) -> ModelShape:
    return ModelShape(n_layers, d_model, n_heads, ffn_size(d_model))


def shape_for_params(target: float) -> ModelShape:
    """The documented rule: a shape whose non-embedding parameter count is close to `target`."""
    if target < 1_000:
        raise UserError(f"model size {target:g}: too small (need at least 1k non-embedding parameters)")
    n_layers = max(1, round((target / 51_200) ** (1 / 3)))
    best: ModelShape | None = None
    d = 16
    while True:
        hs = head_size(d)
        if d % hs == 0:
            cand = _shape(n_layers, d, d // hs)
            gap = abs(cand.non_embedding_params - target)
            if best is None or gap < abs(best.non_embedding_params - target):
                best = cand
            if cand.non_embedding_params > target:
                break
        d += 16
    return best


# The paper ladder (Cuervo & Marxer 2024): layers / width / heads.
PAPER_PRESETS = {
    "20m": _shape(6, 512, 8),
    "85m": _shape(12, 768, 12),
    "155m": _shape(12, 1024, 16),
    "309m": _shape(24, 1024, 16),
    "823m": _shape(16, 2048, 32),
}

# The CPU ladder: every entry is what `shape_for_params` gives for its nominal size.
CPU_SIZES = {"cpu-50k": 5e4, "cpu-100k": 1e5, "cpu-250k": 2.5e5, "cpu-500k": 5e5, "cpu-1m": 1e6,
             "cpu-2m": 2e6, "cpu-5m": 5e6}
CPU_PRESETS = {name: shape_for_params(n) for name, n in CPU_SIZES.items()}

PRESETS: dict[str, ModelShape] = {**CPU_PRESETS, **PAPER_PRESETS}

_SIZE_RE = re.compile(r"^(?:auto-|n=)?(\d+(?:\.\d+)?)([kmb]?)$", re.IGNORECASE)
_SCALE = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}


def resolve_preset(name: str) -> ModelShape:
    """A named preset, or `auto-<size>` (e.g. `auto-3m`, `auto-750k`) through the shape rule."""
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    m = _SIZE_RE.match(key)
    if m and key.startswith(("auto-", "n=")):
        return shape_for_params(float(m.group(1)) * _SCALE[m.group(2).lower()])
    raise UserError(f"model.preset {name!r}: unknown; use one of {', '.join(PRESETS)} "
                    "or auto-<size> such as auto-3m")


def param_counts(model: object) -> tuple[int, int]:
    """(N, N_total) of a built model; see slmscale.model.counting (re-exported for the contract)."""
    from slmscale.model.counting import param_counts as _counts

    return _counts(model)
