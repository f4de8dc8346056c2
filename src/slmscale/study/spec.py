"""The study spec: one validated YAML file describing a whole scaling study.

A study has four parts:
  data       where the corpus, speech tokenizer, shards and benchmarks come from (study.spec_data):
             either a path to an existing artifact or the settings to build it. Each stage's settings are that stage's own
             config model (`audio.corpus.CorpusConfig`, `units.fit.FitConfig`, `units.encode.EncodeConfig`,
             `units.unigram.UnigramConfig`, `data.interleave.InterleaveConfig`,
             `eval.synth_bench.BenchConfig`), less the inputs the study fills in (manifest, tokenizer, ...);
  arms       what is trained: textless SLM on units, text LM on transcripts, unigram-unit SLM,
             interleaved SLM; each arm has its own evaluation tasks (slmscale.eval.tasks) and train
             overrides;
  grid       model sizes x budgets (tokens-per-parameter ratios and/or IsoFLOP compute budgets),
             optional multi-epoch runs, and seeds;
  fits       which fits to run and which planner questions to answer.
Unknown keys are errors (StrictModel), raised before any work starts. Names that become paths (study,
arm, size names) must match SAFE_NAME, so no spec can write outside its study folder.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from slmscale.config import StrictModel, load_config
from slmscale.errors import UserError
from slmscale.eval import tasks as eval_tasks
from slmscale.study.spec_data import DataSpec

# One path component: starts with a letter or digit, no separators, no "..".
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.=+-]{0,63}$"
ArmKind = Literal["units", "text", "unigram", "interleaved"]


class SizeSpec(StrictModel):
    """A model size: a TRAIN preset name; `params` (non-embedding N) may be given to skip counting."""
    preset: str = Field(pattern=SAFE_NAME)
    params: int | None = Field(default=None, gt=0)


class MultiEpoch(StrictModel):
    """Repeat a subset of `unique_tokens` for `epochs` epochs (data-constrained fits)."""
    size: str = Field(pattern=SAFE_NAME)
    unique_tokens: int = Field(gt=0)
    epochs: list[float] = Field(min_length=1)
    key: str = "data.max_tokens"  # the TRAIN config key that limits unique tokens


class GridSpec(StrictModel):
    sizes: list[SizeSpec] = Field(min_length=1)  # a plain string is a preset name
    tokens_per_param: list[float] = Field(default_factory=list)
    flops: list[float] = Field(default_factory=list)  # IsoFLOP budgets, C = 6 N D
    multi_epoch: list[MultiEpoch] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    min_tokens: int = Field(default=1, ge=1)  # drop IsoFLOP points with fewer tokens than this
    # Drop runs that would see their arm's unique training tokens more than this many times (1:
    # single-epoch ladders for Chinchilla-form fits). Known once the shards exist; plan.json lists
    # the dropped runs and why. Multi-epoch runs (multi_epoch) are kept: they repeat on purpose.
    max_epochs: float | None = Field(default=None, gt=0)

    @field_validator("sizes", mode="before")
    @classmethod
    def _sizes_as_models(cls, sizes: Any) -> Any:  # so a bad name is checked by SizeSpec's pattern
        return [{"preset": s} if isinstance(s, str) else s for s in sizes] if isinstance(sizes, list) else sizes

    @field_validator("tokens_per_param", "flops")
    @classmethod
    def _positive(cls, values: list[float]) -> list[float]:
        if any(v <= 0 for v in values):
            raise ValueError("budgets must be positive")
        return values

    @model_validator(mode="after")
    def _some_budget(self) -> "GridSpec":
        if not (self.tokens_per_param or self.flops or self.multi_epoch):
            raise ValueError("give tokens_per_param, flops or multi_epoch budgets")
        return self


class ArmSpec(StrictModel):
    name: str = Field(pattern=SAFE_NAME)
    kind: ArmKind
    enabled: bool = True
    tasks: list[str] = Field(default_factory=list)
    shards: Path | None = None  # override the data section's shards for this arm
    # Units arms: train on this corpus of data.corpora (encoded with the study's speech tokenizer)
    # instead of data.corpus, e.g. the no-story control.
    corpus: str | None = Field(default=None, pattern=SAFE_NAME)
    grid: GridSpec | None = None  # override the study grid for this arm
    train: dict[str, Any] = Field(default_factory=dict)  # dotted TRAIN keys, e.g. train.lr: 1e-3
    # Interleaved arms: the text arm whose trained models (per size, the largest-compute run) are
    # extended and trained further. Default: the study's first text arm, unless `shards` is given
    # (prebuilt shards train from scratch unless an init_arm is named).
    init_arm: str | None = Field(default=None, pattern=SAFE_NAME)
    # Non-units arms: size each run's tokens so its full FLOPs equal those of the study's first units
    # arm's run of the same size, seed and budget (equal compute across vocabularies). False: 6ND.
    match_flops: bool = True

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        try:  # canonical names: each is the results column and summary.json key
            return list(dict.fromkeys(eval_tasks.canonical_task(t) for t in tasks))
        except UserError as err:
            raise ValueError(str(err)) from None


class FitsSpec(StrictModel):
    loss: bool = True
    form: Literal["chinchilla", "data-constrained"] = "chinchilla"
    huber_delta: float = Field(default=0.03, gt=0)
    bootstrap: int = Field(default=200, ge=0)
    downstream: bool = True


class ScoringSpec(StrictModel):
    """How every run is scored on its benchmarks (slmscale eval --protocol/--truncation)."""
    protocol: Literal["zerospeech", "cm2024", "slamkit"] = "zerospeech"
    truncation: Literal["slide", "cut", "refuse"] = "slide"  # items longer than the model's context


class QuestionsSpec(StrictModel):
    flops: list[float] = Field(default_factory=list)  # "for budget C, which N and D?"
    targets: dict[str, float] = Field(default_factory=dict)  # "how much compute to reach metric=x?"
    arm: str | None = Field(default=None, pattern=SAFE_NAME)  # which arm answers (default: the first units arm)

    @field_validator("targets")
    @classmethod
    def _known_metrics(cls, targets: dict[str, float]) -> dict[str, float]:
        try:  # a metric is a task's results column
            return {eval_tasks.get_task(k).column: v for k, v in targets.items()}
        except UserError as err:
            raise ValueError(str(err)) from None


class ExecutionSpec(StrictModel):
    executor: Literal["local", "submitit"] = "local"
    jobs: int = Field(default=1, ge=1)
    threads_per_run: int | None = Field(default=None, ge=1)
    # GPUs (processes) per run: > 1 launches the worker under torchrun inside the run's job.
    gpus_per_run: int = Field(default=1, ge=1)
    # Data stages with a sharded form (unit encoding) run as this many jobs side by side, merged
    # into the same bytes as one job.
    data_shards: int = Field(default=1, ge=1, le=1024)
    # Command prefix that trains one run; the runner appends the run's config YAML.
    trainer: list[str] | None = None
    # Command prefix that scores one run on one task; the runner appends --run/--task/--bench.
    evaluator: list[str] | None = None
    # With trainer/evaluator commands: the prefix that makes an interleaved run's starting model;
    # the runner appends --model/--tokenizer/--units/--out/--check-shards (default `slmscale model extend`).
    extender: list[str] | None = None
    retry_failed: bool = False
    timeout_s: float | None = Field(default=None, gt=0)
    slurm: dict[str, Any] = Field(default_factory=dict)  # submitit parameters (partition, gpus…)


class StudySpec(StrictModel):
    name: str = Field(default="study", pattern=SAFE_NAME)
    seed: int = 0
    data: DataSpec = Field(default_factory=DataSpec)
    arms: list[ArmSpec] = Field(min_length=1)
    grid: GridSpec
    train: dict[str, Any] = Field(default_factory=dict)  # base TRAIN config, dotted or nested keys
    fits: FitsSpec = Field(default_factory=FitsSpec)
    scoring: ScoringSpec = Field(default_factory=ScoringSpec)
    questions: QuestionsSpec = Field(default_factory=QuestionsSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)

    @model_validator(mode="after")
    def _check_arms(self) -> "StudySpec":
        names = [a.name for a in self.arms]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"arm names must be unique; repeated: {sorted(dup)}")
        by_name = {a.name: a for a in self.arms}
        for arm in self.arms:
            mixed = [t for t in arm.tasks if eval_tasks.get_task(t).modality != "speech"]
            if mixed and arm.kind != "interleaved":
                raise ValueError(f"arm {arm.name!r}: task {mixed[0]!r} needs a model that reads both text "
                                 "and speech (interleaved arms only)")
            if arm.corpus is not None:
                self._check_corpus(arm)
            if arm.init_arm is not None and arm.kind != "interleaved":
                raise ValueError(f"arm {arm.name!r}: init_arm applies to interleaved arms only")
            if arm.enabled and arm.kind == "interleaved":
                init = self.init_arm_of(arm)
                if arm.init_arm is not None:
                    other = by_name.get(arm.init_arm)
                    if other is None or other.kind != "text" or not other.enabled:
                        raise ValueError(f"arm {arm.name!r}: init_arm {arm.init_arm!r} is not an enabled "
                                         "text arm of this study")
                elif arm.shards is None and init is None:
                    raise ValueError(f"arm {arm.name!r}: interleaved arms start from the text arm's models; "
                                     "add an enabled text arm (or name one with init_arm), or give "
                                     "prebuilt `shards`")
                if arm.shards is None and self.data.corpus is None:
                    raise ValueError(f"arm {arm.name!r}: building interleaved shards needs data.corpus "
                                     "(a manifest with word alignments); or give prebuilt `shards`")
                continue
            if arm.enabled and arm.shards is None:
                self._check_builds(arm)
            if arm.enabled and arm.tasks and self.data.bench is None:
                raise ValueError(f"arm {arm.name!r} has tasks but data.bench is not set")
        bad = [c for c in self.data.corpora if not re.match(SAFE_NAME, c)]
        if bad:
            raise ValueError(f"data.corpora: name {bad[0]!r} must match {SAFE_NAME} (it becomes a folder)")
        if self.questions.arm is not None and self.questions.arm not in names:
            raise ValueError(f"questions.arm {self.questions.arm!r} is not an arm")
        return self

    def _check_corpus(self, arm: ArmSpec) -> None:
        """An arm's own corpus: a units arm, a corpus of data.corpora, a tokenizer to encode it with."""
        d = self.data
        if arm.kind != "units":
            raise ValueError(f"arm {arm.name!r}: corpus applies to units arms only (this arm is {arm.kind!r})")
        if arm.shards is not None:
            raise ValueError(f"arm {arm.name!r}: give corpus or shards, not both")
        if arm.corpus not in d.corpora:
            raise ValueError(f"arm {arm.name!r}: corpus {arm.corpus!r} is not in data.corpora "
                             f"(names: {sorted(d.corpora) or 'none'}); add it there")
        if d.units.path is None and d.units.fit is None:
            raise ValueError(f"arm {arm.name!r}: encoding corpus {arm.corpus!r} needs the study's speech "
                             "tokenizer: give data.units.path or data.units.fit (not only data.units.shards)")
        if d.units.fit is not None and d.units.path is None and d.corpus is None:
            raise ValueError(f"arm {arm.name!r}: data.units.fit fits the tokenizer on data.corpus; set it")

    def _check_builds(self, arm: ArmSpec) -> None:
        """The data section can make an arm's shards (or they are given)."""
        d = self.data
        given = {"units": d.units.shards, "unigram": d.unigram.path, "text": d.text.shards}.get(arm.kind)
        if given is not None:
            return
        if d.corpus is None:
            raise ValueError(f"arm {arm.name!r}: no shards given and no data.corpus to build them from")
        if arm.kind in ("units", "unigram") and d.units.shards is None and d.units.path is None \
                and d.units.fit is None:
            raise ValueError(f"arm {arm.name!r}: data.units needs shards, a tokenizer path, or fit settings "
                             "(e.g. fit: {encoder: mfcc, k: 100})")
        if arm.kind == "unigram" and d.unigram.fit is None:
            raise ValueError(f"arm {arm.name!r}: data.unigram needs a path or fit settings "
                             "(e.g. fit: {vocab_size: 500})")

    def enabled_arms(self) -> list[ArmSpec]:
        return [a for a in self.arms if a.enabled]

    def compute_partner(self, arm: ArmSpec) -> str | None:
        """The units arm whose runs' full FLOPs this arm's runs match (None: sized by its own grid)."""
        if arm.kind == "units" or not arm.match_flops:
            return None
        return next((a.name for a in self.arms if a.kind == "units" and a.enabled), None)

    def init_arm_of(self, arm: ArmSpec) -> str | None:
        """The text arm an interleaved arm starts from (None: trains from scratch)."""
        if arm.kind != "interleaved":
            return None
        if arm.init_arm is not None:
            return arm.init_arm
        if arm.shards is not None:
            return None
        return next((a.name for a in self.arms if a.kind == "text" and a.enabled), None)


def load_spec(path: str | Path, overrides: list[str] | None = None) -> StudySpec:
    """Load and validate a study YAML; relative data paths resolve against the YAML's folder."""
    try:
        spec = load_config(StudySpec, path, overrides)
    except UserError as err:  # a stage model's validator may raise UserError itself (no file named)
        raise UserError(str(err) if str(path) in str(err) else f"{path}: {err}") from None
    spec = resolve_paths(spec, Path(path).resolve().parent)
    for line in repeated_data_warnings(spec):
        warnings.warn(line, RepeatedDataWarning, stacklevel=2)
    return spec


class RepeatedDataWarning(UserWarning):
    """A Chinchilla-form fit over an arm that has runs repeating their data."""


def repeated_data_warnings(spec: StudySpec) -> list[str]:
    """One line per enabled arm whose grid has multi-epoch runs while fits.form is chinchilla."""
    if spec.fits.form != "chinchilla":
        return []
    out = []
    for arm in spec.enabled_arms():
        grid = arm.grid or spec.grid
        epochs = sorted({e for me in grid.multi_epoch for e in me.epochs if e > 1})
        if epochs:
            out.append(f"arm {arm.name!r}: runs repeat their data ({', '.join(f'{e:g}' for e in epochs)} "
                       "epochs) but fits.form is chinchilla, which counts repeated tokens as new; use "
                       "fits.form: data-constrained")
    return out


def resolve_paths(spec: StudySpec, base: Path) -> StudySpec:
    def fix(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (base / p).resolve())

    d = spec.data
    for c in (d.corpus, *d.corpora.values()):
        if c is not None and c.path is not None:
            c.path = fix(c.path)
        if c is not None and c.synth is not None and c.synth.text:
            c.synth.text = str(fix(Path(c.synth.text)))
    d.units.path, d.units.shards = fix(d.units.path), fix(d.units.shards)
    if d.units.fit is not None and d.units.fit.encoder.checkpoint and not d.units.phonenet \
            and d.units.pretrain is None:
        d.units.fit.encoder.checkpoint = str(fix(Path(d.units.fit.encoder.checkpoint)))
    d.unigram.path = fix(d.unigram.path)
    d.text.shards = fix(d.text.shards)
    if d.bench is not None:
        d.bench.path = fix(d.bench.path)
    for arm in spec.arms:
        arm.shards = fix(arm.shards)
    return spec
