"""Expand a study spec into concrete runs, each with a stable id (a hash of its config).

The id hashes what determines a run's result: arm kind, model preset, token budget, seed, the
resolved TRAIN overrides and the fingerprint of the shards it trains on (not their path, so a study
folder can move). Same spec + same data = same ids, which is how finished runs are found again.

An interleaved arm that starts from a text arm gets, per run, `init_run`: the text arm's run of the
same size (same seed when there is one) with the largest budget, i.e. the largest compute at that
size. That id enters the run's own id, and the runner starts the run only once it has finished.
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
    init_run: str = ""  # run id whose final model this run starts from (interleaved arms)

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


InitFor = Callable[[str, int], str]  # (preset, seed) -> run id to start from


def _make(arm: ArmSpec, preset: str, params: int, tokens: int, seed: int, budget: str,
          train: dict[str, Any], shards_fp: str, init_for: InitFor | None = None) -> RunSpec:
    ident = {"kind": arm.kind, "preset": preset, "tokens": tokens, "seed": seed, "train": train,
             "shards": shards_fp}
    init_run = init_for(preset, seed) if init_for is not None else ""
    if init_run:  # only then, so the ids of runs from scratch stay what they were
        ident["init"] = init_run
    h = sha256_json(ident)[:10]
    run_id = f"{arm.name}_{preset}_{_short(tokens)}_s{seed}_{h}"
    return RunSpec(run_id=run_id, arm=arm.name, kind=arm.kind, preset=preset, params=params,
                   tokens=tokens, seed=seed, budget=budget, train=train, tasks=tuple(arm.tasks),
                   init_run=init_run)


def init_picker(arm: str, init_arm: str, init_runs: list[RunSpec]) -> InitFor:
    """Per (preset, seed): the init arm's run of that size with the largest compute (budget), from
    the same seed when the init arm has one, else from its lowest seed."""
    best: dict[tuple[str, int], RunSpec] = {}
    for r in init_runs:
        key = (r.preset, r.seed)
        if key not in best or r.tokens > best[key].tokens:
            best[key] = r

    def pick(preset: str, seed: int) -> str:
        if (preset, seed) in best:
            return best[(preset, seed)].run_id
        seeds = sorted(s for p, s in best if p == preset)
        if not seeds:
            sizes = sorted({p for p, _ in best})
            raise UserError(f"arm {arm!r}: size {preset!r} has no run in init_arm {init_arm!r} to start "
                            f"from (its sizes: {sizes}); add the size to that arm's grid or drop it here")
        return best[(preset, seeds[0])].run_id

    return pick


def expand_arm(spec: StudySpec, arm: ArmSpec, shards_fp: str = "",
               count_params: ParamCounter = default_param_counter,
               init_for: InitFor | None = None) -> list[RunSpec]:
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
                                  base, shards_fp, init_for))
            for c in grid.flops:
                d = round(c / (6.0 * n))
                if d >= grid.min_tokens:
                    runs.append(_make(arm, size.preset, n, d, seed, f"flops={c:.3g}", base, shards_fp,
                                      init_for))
        for me in grid.multi_epoch:
            if me.size not in params:
                raise UserError(f"grid.multi_epoch: size {me.size!r} is not in grid.sizes")
            for ep in me.epochs:
                train = {**base, me.key: me.unique_tokens}
                runs.append(_make(arm, me.size, params[me.size], round(ep * me.unique_tokens), seed,
                                  f"epochs={ep:g}", train, shards_fp, init_for))
    # IsoFLOP and ratio budgets may coincide: keep one run per id.
    unique: dict[str, RunSpec] = {}
    for r in runs:
        unique.setdefault(r.run_id, r)
    return list(unique.values())


def expand(spec: StudySpec, shards_fp: dict[str, str] | None = None,
           count_params: ParamCounter = default_param_counter) -> list[RunSpec]:
    """All runs of all enabled arms, in a deterministic order (arm, seed, size, budget).

    Arms that start from another arm's models are expanded after it, whatever the spec's order."""
    shards_fp = shards_fp or {}
    per_arm: dict[str, list[RunSpec]] = {}
    arms = spec.enabled_arms()
    for arm in arms:
        if spec.init_arm_of(arm) is None:
            per_arm[arm.name] = expand_arm(spec, arm, shards_fp.get(arm.name, ""), count_params)
    for arm in arms:
        init = spec.init_arm_of(arm)
        if init is not None:
            pick = init_picker(arm.name, init, per_arm[init])
            per_arm[arm.name] = expand_arm(spec, arm, shards_fp.get(arm.name, ""), count_params, pick)
    return [r for arm in arms for r in per_arm[arm.name]]


def dependencies(runs: list[RunSpec]) -> dict[str, list[str]]:
    """run id -> the run ids that must finish before it starts."""
    return {r.run_id: [r.init_run] for r in runs if r.init_run}
