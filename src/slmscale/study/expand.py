"""Expand a study spec into concrete runs, each with a stable id (a hash of its config).

The id hashes what determines a run's result: arm kind, model preset, token budget, seed, the
resolved TRAIN overrides and the fingerprint of the shards it trains on (not their path, so a study
folder can move). Same spec + same data = same ids, which is how finished runs are found again.

Equal compute means equal full FLOPs (DESIGN.md): an arm other than the textless one (text,
unigram, interleaved) is paired with the study's first units arm (`compute_partner`), and each of its
runs whose (size, seed, budget) the partner also has trains for the token count that gives the same
`flops_full` (slmscale.model.flops: embeddings, LM head and attention counted) as the partner's run.
Vocabularies differ between arms, so equal 6·N·D would not be equal compute.

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
# (preset, vocabulary size, sequence length) -> full training FLOPs per token, None when unknown.
FlopsCounter = Callable[[str, int, int], "float | None"]
DEFAULT_SEQ_LEN = 512  # train.seq_len's default (slmscale.train.config.OptimConfig)
DEFAULT_BATCH_TOKENS = 16_384  # train.batch_tokens's default


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
    flops_full: float | None = None  # planned full training FLOPs (None: model shape unknown)
    vocab_size: int | None = None  # the vocabulary the plan counted with
    unique_tokens: int | None = None  # U: distinct training tokens (None: not known yet)
    compute_partner: str = ""  # the run whose flops_full this run's budget was matched to

    @property
    def flops(self) -> float:
        return 6.0 * self.params * self.tokens

    @property
    def epochs(self) -> float | None:
        return self.tokens / self.unique_tokens if self.unique_tokens else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        d["flops"] = self.flops
        d["epochs"] = self.epochs
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
    from slmscale.model.presets import resolve_preset

    return int(resolve_preset(preset).non_embedding_params)


def default_flops_counter(preset: str, vocab: int, seq_len: int) -> float | None:
    """Full training FLOPs per token of a preset's shape with this vocabulary (model.flops)."""
    from types import SimpleNamespace

    from slmscale.model.flops import flops_full
    from slmscale.model.presets import resolve_preset

    try:
        shape = resolve_preset(preset)
    except UserError:
        return None
    config = SimpleNamespace(hidden_size=shape.d_model, num_attention_heads=shape.n_heads,
                             intermediate_size=shape.ffn, num_hidden_layers=shape.n_layers, vocab_size=vocab)
    return flops_full(config, seq_len, 1.0)


def planned_vocab(spec: StudySpec, arm: ArmSpec) -> int | None:
    """The vocabulary an arm's models will have: its given shards' (meta.json), else from the spec's
    settings (None: not known before its shards exist). The study passes the built shards' sizes
    instead once they exist."""
    from slmscale.artifacts import read_json

    d = spec.data
    given = arm.shards or {"units": d.units.shards, "unigram": d.unigram.path, "text": d.text.shards}.get(arm.kind)
    for meta in ((given / "meta.json", given / "shards" / "meta.json") if given is not None else ()):
        if meta.is_file():
            return int(read_json(meta)["vocab_size"])
    k = d.units.fit.k if d.units.fit is not None else None
    if arm.kind == "units" and k is not None:
        return k + 2  # units + <bos>, <eos> (units.bundle)
    if arm.kind == "unigram" and d.unigram.fit is not None:
        return d.unigram.fit.vocab_size + 2
    if arm.kind == "text":
        return d.text.vocab_size
    if arm.kind == "interleaved" and k is not None:
        return d.text.vocab_size + k + 2  # + the units and the two modality switch tokens
    return None


def _short(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}"


InitFor = Callable[[str, int], str]  # (preset, seed) -> run id to start from


@dataclass
class ArmPlan:
    """What an arm's runs are sized with: vocabulary, sequence length, compute partner's runs."""
    vocab: int | None = None
    seq_len: int = DEFAULT_SEQ_LEN
    batch_tokens: int = DEFAULT_BATCH_TOKENS  # the trainer trains whole steps of this many tokens
    unique_tokens: int | None = None  # training tokens in its shards (for epochs)
    partner: dict[tuple[str, int, str], "RunSpec"] = field(default_factory=dict)
    count_flops: FlopsCounter = default_flops_counter
    partner_dropped: dict[tuple[str, int, str], str] = field(default_factory=dict)  # key -> dropped run id

    def per_token(self, preset: str) -> float | None:
        return None if self.vocab is None else self.count_flops(preset, self.vocab, self.seq_len)

    def trained(self, tokens: int) -> int:
        """Tokens the trainer will train for a budget: whole steps, rounded up."""
        return -(-tokens // self.batch_tokens) * self.batch_tokens


def _make(arm: ArmSpec, preset: str, params: int, tokens: int, seed: int, budget: str,
          train: dict[str, Any], shards_fp: str, plan: ArmPlan, init_for: InitFor | None = None,
          unique: int | None = None) -> RunSpec:
    partner = plan.partner.get((preset, seed, budget))
    per_token = plan.per_token(preset)
    if partner is not None:
        if per_token is None or partner.flops_full is None:
            raise UserError(f"arm {arm.name!r}, size {preset!r}: cannot count full FLOPs to match its "
                            f"compute to arm {partner.arm!r} (unknown model shape or vocabulary); "
                            "set match_flops: false on the arm to compare at 6ND instead")
        # A whole number of steps, the nearest to the partner's full FLOPs (the trainer rounds a
        # budget up to whole steps, so an exact token count would overshoot by up to one step).
        tokens = max(1, round(partner.flops_full / per_token / plan.batch_tokens)) * plan.batch_tokens
    ident = {"kind": arm.kind, "preset": preset, "tokens": tokens, "seed": seed, "train": train,
             "shards": shards_fp}
    init_run = init_for(preset, seed) if init_for is not None else ""
    if init_run:  # only then, so the ids of runs from scratch stay what they were
        ident["init"] = init_run
    h = sha256_json(ident)[:10]
    run_id = f"{arm.name}_{preset}_{_short(tokens)}_s{seed}_{h}"
    return RunSpec(run_id=run_id, arm=arm.name, kind=arm.kind, preset=preset, params=params,
                   tokens=tokens, seed=seed, budget=budget, train=train, tasks=tuple(arm.tasks),
                   init_run=init_run, flops_full=None if per_token is None else per_token * plan.trained(tokens),
                   vocab_size=plan.vocab, unique_tokens=unique or plan.unique_tokens,
                   compute_partner=partner.run_id if partner is not None else "")


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


def train_overrides(spec: StudySpec, arm: ArmSpec) -> dict[str, Any]:
    """The arm's TRAIN keys (dotted): the study's `train:` then the arm's; grid-owned keys refused."""
    base = {**flatten(spec.train), **flatten(arm.train)}
    for reserved in ("data.shards", "out", "seed", "model.preset", "budget.tokens",
                     "budget.tokens_per_param", "run_id", "model.init_from"):
        if reserved in base:
            raise UserError(f"train.{reserved}: set by the study grid/runner; remove it from the spec")
    return base


def expand_arm(spec: StudySpec, arm: ArmSpec, shards_fp: str = "",
               count_params: ParamCounter = default_param_counter,
               init_for: InitFor | None = None, plan: ArmPlan | None = None,
               dropped: list[dict[str, Any]] | None = None) -> list[RunSpec]:
    """An arm's runs. Runs refused by grid.max_epochs (or whose compute partner was) are appended
    to `dropped`, each with the reason."""
    grid: GridSpec = arm.grid or spec.grid
    base = train_overrides(spec, arm)
    plan = plan or ArmPlan()
    params = {s.preset: s.params or count_params(s.preset) for s in grid.sizes}
    runs: list[RunSpec] = []
    drops = dropped if dropped is not None else []

    def add(preset: str, n: int, tokens: int, seed: int, budget: str) -> None:
        """A grid run, unless it (or its compute partner) would repeat data past grid.max_epochs."""
        gone = plan.partner_dropped.get((preset, seed, budget))
        if gone is not None:
            drops.append({"arm": arm.name, "preset": preset, "seed": seed, "budget": budget,
                          "reason": f"its compute partner {gone} was dropped"})
            return
        run = _make(arm, preset, n, tokens, seed, budget, base, shards_fp, plan, init_for)
        if grid.max_epochs is not None and run.epochs is not None and run.epochs > grid.max_epochs:
            drops.append({"arm": arm.name, "preset": preset, "seed": seed, "budget": budget, "run_id": run.run_id,
                          "reason": f"{run.tokens:,} tokens = {run.epochs:.2f} epochs of its {run.unique_tokens:,} "
                                    f"unique tokens > grid.max_epochs {grid.max_epochs:g}"})
            return
        runs.append(run)

    for seed in grid.seeds:
        for size in grid.sizes:
            n = params[size.preset]
            for r in grid.tokens_per_param:
                add(size.preset, n, max(1, round(r * n)), seed, f"tpp={r:g}")
            for c in grid.flops:
                d = round(c / (6.0 * n))
                if d >= grid.min_tokens:
                    add(size.preset, n, d, seed, f"flops={c:.3g}")
        for me in grid.multi_epoch:
            if me.size not in params:
                raise UserError(f"grid.multi_epoch: size {me.size!r} is not in grid.sizes")
            for ep in me.epochs:
                train = {**base, me.key: me.unique_tokens}
                runs.append(_make(arm, me.size, params[me.size], round(ep * me.unique_tokens), seed,
                                  f"epochs={ep:g}", train, shards_fp, plan, init_for, me.unique_tokens))
    # IsoFLOP and ratio budgets may coincide: keep one run per id.
    unique: dict[str, RunSpec] = {}
    for r in runs:
        unique.setdefault(r.run_id, r)
    return list(unique.values())


def expand(spec: StudySpec, shards_fp: dict[str, str] | None = None,
           count_params: ParamCounter = default_param_counter,
           vocab: dict[str, int] | None = None, unique_tokens: dict[str, int] | None = None,
           count_flops: FlopsCounter = default_flops_counter, match_flops: bool = True,
           dropped: list[dict[str, Any]] | None = None) -> list[RunSpec]:
    """All runs of all enabled arms, in a deterministic order (arm, seed, size, budget).

    `vocab` / `unique_tokens`: per arm, its shards' vocabulary and training tokens (default: the
    spec's planned vocabulary, unknown U). `match_flops=False` keeps every arm at its own grid's
    budgets (for checks before the data exists). Arms whose runs depend on another arm's (init runs,
    compute partners) are expanded after it, whatever the spec's order. `dropped` collects the runs
    that grid.max_epochs refuses (needs `unique_tokens`), and those matched to a dropped partner."""
    shards_fp, vocab, unique_tokens = shards_fp or {}, vocab or {}, unique_tokens or {}
    dropped = dropped if dropped is not None else []
    per_arm: dict[str, list[RunSpec]] = {}
    arms = spec.enabled_arms()

    def plan_for(arm: ArmSpec) -> ArmPlan:
        train = {**flatten(spec.train), **flatten(arm.train)}
        seq = train.get("train.seq_len", DEFAULT_SEQ_LEN)
        batch = train.get("train.batch_tokens", DEFAULT_BATCH_TOKENS)
        partner = spec.compute_partner(arm) if match_flops else None
        runs = {(r.preset, r.seed, r.budget): r for r in per_arm.get(partner, [])} if partner else {}
        gone = {(d["preset"], d["seed"], d["budget"]): d.get("run_id", "?") for d in dropped
                if partner and d["arm"] == partner}
        return ArmPlan(vocab.get(arm.name, planned_vocab(spec, arm)), int(seq), int(batch),
                       unique_tokens.get(arm.name), runs, count_flops, gone)

    order = sorted(arms, key=lambda a: (spec.compute_partner(a) is not None, spec.init_arm_of(a) is not None))
    for arm in order:
        init = spec.init_arm_of(arm)
        pick = init_picker(arm.name, init, per_arm[init]) if init is not None else None
        per_arm[arm.name] = expand_arm(spec, arm, shards_fp.get(arm.name, ""), count_params, pick, plan_for(arm),
                                       dropped)
    return [r for arm in arms for r in per_arm[arm.name]]


def dependencies(runs: list[RunSpec]) -> dict[str, list[str]]:
    """run id -> the run ids that must finish before it starts."""
    return {r.run_id: [r.init_run] for r in runs if r.init_run}


def critical_path(runs: list[RunSpec]) -> dict[str, float]:
    """run id -> the planned training FLOPs of the longest chain of runs it starts (itself, then the
    costliest run that starts from it, and so on). Handing out runs in decreasing order of this
    starts the long chains first (a text model, then the interleaved run extended from it) and
    leaves the short runs to fill the last workers, so no worker idles behind one long run."""
    children: dict[str, list[str]] = {}
    for r in runs:
        if r.init_run:
            children.setdefault(r.init_run, []).append(r.run_id)
    cost = {r.run_id: float(r.flops_full or r.flops) for r in runs}
    memo: dict[str, float] = {}

    def chain(run_id: str) -> float:
        if run_id not in memo:
            memo[run_id] = cost.get(run_id, 0.0) + max((chain(c) for c in children.get(run_id, ())), default=0.0)
        return memo[run_id]

    return {r.run_id: chain(r.run_id) for r in runs}
