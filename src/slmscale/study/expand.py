"""Expand a study spec into concrete runs, each with a stable id (a hash of its config).

The id hashes what determines a run's result: arm kind, model preset, token budget, seed, the
resolved TRAIN overrides and the fingerprint of the shards it trains on (not their path, so a study
folder can move). Same spec + same data = same ids, which is how finished runs are found again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from slmscale.artifacts import sha256_json
from slmscale.errors import UserError
from slmscale.study.spec import ArmSpec, GridSpec, StudySpec

ParamCounter = Callable[[str], int]


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    arm: str
    kind: str
    preset: str
    params: int  # non-embedding N used to size the budget
    tokens: int  # planned D
    seed: int
    budget: str  # how the budget was given, e.g. "tpp=20", "flops=1e15", "epochs=4"
    train: dict[str, Any] = field(default_factory=dict)  # dotted TRAIN keys (without data/out)
    tasks: tuple[str, ...] = ()

    @property
    def flops(self) -> float:
        return 6.0 * self.params * self.tokens

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        d["flops"] = self.flops
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSpec":
        keys = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in keys}
        d["tasks"] = tuple(d.get("tasks", ()))
        return cls(**d)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> dotted keys (`{"train": {"lr": 1}}` -> `{"train.lr": 1}`)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def default_param_counter(preset: str) -> int:
    """Non-embedding parameters N of a TRAIN preset (named or `auto-<size>`), from its shape."""
    try:
        from slmscale.model.presets import resolve_preset
    except ImportError:
        raise UserError(f"size {preset!r}: the model presets module is not available; give "
                        "`params:` for each size in the grid") from None
    return int(resolve_preset(preset).non_embedding_params)


def _short(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}"


def _make(arm: ArmSpec, preset: str, params: int, tokens: int, seed: int, budget: str,
          train: dict[str, Any], shards_fp: str) -> RunSpec:
    ident = {"kind": arm.kind, "preset": preset, "tokens": tokens, "seed": seed, "train": train,
             "shards": shards_fp}
    h = sha256_json(ident)[:10]
    run_id = f"{arm.name}_{preset}_{_short(tokens)}_s{seed}_{h}"
    return RunSpec(run_id=run_id, arm=arm.name, kind=arm.kind, preset=preset, params=params,
                   tokens=tokens, seed=seed, budget=budget, train=train, tasks=tuple(arm.tasks))


def expand_arm(spec: StudySpec, arm: ArmSpec, shards_fp: str = "",
               count_params: ParamCounter = default_param_counter) -> list[RunSpec]:
    grid: GridSpec = arm.grid or spec.grid
    base = {**flatten(spec.train), **flatten(arm.train)}
    for reserved in ("data.shards", "out", "seed", "model.preset", "budget.tokens",
                     "budget.tokens_per_param"):
        if reserved in base:
            raise UserError(f"train.{reserved}: set by the study grid/runner; remove it from the spec")
    params = {s.preset: s.params or count_params(s.preset) for s in grid.sizes}
    runs: list[RunSpec] = []
    for seed in grid.seeds:
        for size in grid.sizes:
            n = params[size.preset]
            for r in grid.tokens_per_param:
                runs.append(_make(arm, size.preset, n, max(1, round(r * n)), seed, f"tpp={r:g}",
                                  base, shards_fp))
            for c in grid.flops:
                d = round(c / (6.0 * n))
                if d >= grid.min_tokens:
                    runs.append(_make(arm, size.preset, n, d, seed, f"flops={c:.3g}", base, shards_fp))
        for me in grid.multi_epoch:
            if me.size not in params:
                raise UserError(f"grid.multi_epoch: size {me.size!r} is not in grid.sizes")
            for ep in me.epochs:
                train = {**base, me.key: me.unique_tokens}
                runs.append(_make(arm, me.size, params[me.size], round(ep * me.unique_tokens), seed,
                                  f"epochs={ep:g}", train, shards_fp))
    # IsoFLOP and ratio budgets may coincide: keep one run per id.
    unique: dict[str, RunSpec] = {}
    for r in runs:
        unique.setdefault(r.run_id, r)
    return list(unique.values())


def expand(spec: StudySpec, shards_fp: dict[str, str] | None = None,
           count_params: ParamCounter = default_param_counter) -> list[RunSpec]:
    """All runs of all enabled arms, in a deterministic order (arm, seed, size, budget)."""
    shards_fp = shards_fp or {}
    runs: list[RunSpec] = []
    for arm in spec.enabled_arms():
        runs.extend(expand_arm(spec, arm, shards_fp.get(arm.name, ""), count_params))
    return runs
