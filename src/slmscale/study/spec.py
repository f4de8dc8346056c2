"""The study spec: one validated YAML file describing a whole scaling study.

A study has four parts:
  data       where the corpus, speech tokenizer, shards and benchmarks come from: either a path to an
             existing artifact or the settings to build it (synthetic corpus or a real manifest);
  arms       what is trained: textless SLM on units, text LM on transcripts, unigram-unit SLM,
             interleaved SLM; each arm has its own evaluation tasks and train overrides;
  grid       model sizes x budgets (tokens-per-parameter ratios and/or IsoFLOP compute budgets),
             optional multi-epoch runs, and seeds;
  fits       which fits to run and which planner questions to answer.
Unknown keys are errors (StrictModel), raised before any work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from slmscale.config import StrictModel, load_config
from slmscale.data.interleave import InterleaveConfig

SPEECH_TASKS = ("swuggy", "sblimp", "sstorycloze", "tstorycloze")
# Interleaved models only: StoryCloze with a text context and a spoken ending (t2s) or the reverse.
CROSS_TASKS = ("sstorycloze_t2s", "sstorycloze_s2t", "tstorycloze_t2s", "tstorycloze_s2t")
# Interleaved models only: the benchmarks' text versions, read after <text>.
TEXT_TASKS = tuple(f"{t}_text" for t in SPEECH_TASKS)
TASKS = SPEECH_TASKS + CROSS_TASKS + TEXT_TASKS
_SHORT = {"sstorycloze": "ssc", "tstorycloze": "tsc"}
# Column names of the results table for each benchmark task (DESIGN.md: swuggy, sblimp, ssc, tsc).
# The new tasks keep their own names (EVAL's summary keys).
TASK_COLUMNS = {**{t: _SHORT.get(t, t) for t in SPEECH_TASKS}, **{t: t for t in CROSS_TASKS + TEXT_TASKS}}
TASK_ALIASES = {**{v: k for k, v in _SHORT.items()},
                **{f"{v}_{m}": f"{k}_{m}" for k, v in _SHORT.items() for m in ("t2s", "s2t", "text")}}
ArmKind = Literal["units", "text", "unigram", "interleaved"]


def bench_task(task: str) -> str:
    """The speech task whose benchmark folder serves `task` (cross-modal and text versions use the
    same items: `sstorycloze_t2s` reads the sStoryCloze folder)."""
    return task.split("_", 1)[0]


def summary_keys(task: str) -> list[str]:
    """Keys under which an evaluation of `task` may appear in a run's summary.json: the results
    column, the study's task name and EVAL's canonical name."""
    from slmscale.eval.formats import canonical_task

    keys = [TASK_COLUMNS.get(task, task), task]
    canonical = canonical_task(task)
    others = (set(TASKS) | set(TASK_COLUMNS.values())) - set(keys)
    if canonical not in others:  # never read another task's result as this one's
        keys.append(canonical)
    return list(dict.fromkeys(keys))


def task_done(summary: dict, task: str) -> bool:
    """Whether a run's summary.json already holds a score for `task`."""
    return any(summary.get(k) is not None for k in summary_keys(task))


class SynthCorpus(StrictModel):
    hours: float | None = Field(default=None, gt=0)
    stories: int | None = Field(default=None, gt=0)
    voices: list[str] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _one_size(self) -> "SynthCorpus":
        if (self.hours is None) == (self.stories is None):
            raise ValueError("give exactly one of hours or stories")
        return self


class CorpusSpec(StrictModel):
    """Exactly one of: `path` (a corpus dir holding manifest.jsonl, or a manifest file), `synth`."""
    path: Path | None = None
    synth: SynthCorpus | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "CorpusSpec":
        if (self.path is None) == (self.synth is None):
            raise ValueError("give exactly one of path (existing corpus/manifest) or synth")
        return self


class UnitsSpec(StrictModel):
    """Speech tokenizer: an existing bundle (`path`) or the settings to fit one on the corpus."""
    path: Path | None = None
    encoder: Literal["mfcc", "logmel", "hubert", "phone"] = "mfcc"
    checkpoint: Path | None = None  # hubert model dir, or a `units phonenet` dir (phone; optional)
    layer: int | None = None
    k: int = Field(default=100, ge=2)
    dedup: bool = True
    shards: Path | None = None  # existing unit shards: skip encoding


class UnigramSpec(StrictModel):
    path: Path | None = None  # existing unigram shards
    vocab_size: int = Field(default=500, ge=8)


class TextSpec(StrictModel):
    """Text-arm data: byte-level BPE trained on the corpus transcripts (see study/text_data.py)."""
    shards: Path | None = None  # existing text shards
    vocab_size: int = Field(default=1000, ge=260)
    stories: int = Field(default=0, ge=0)  # extra text-only generated stories for the train split
    seed: int = 0


class BenchSpec(StrictModel):
    """Benchmarks: a root with one folder per task (`path`), or synthesise them."""
    path: Path | None = None
    voices: list[str] | None = None
    n: int | None = Field(default=None, gt=0)  # items per task (see `slmscale synth bench --n`)
    matched: bool = False  # training voices instead of held-out ones
    seed: int = 0
    extra_args: list[str] = Field(default_factory=list)  # passed to `slmscale synth bench`


class DataSpec(StrictModel):
    corpus: CorpusSpec | None = None
    units: UnitsSpec = Field(default_factory=UnitsSpec)
    unigram: UnigramSpec = Field(default_factory=UnigramSpec)
    text: TextSpec = Field(default_factory=TextSpec)
    # Interleaved shards (SIMS mix), built once per study for every interleaved arm without `shards`.
    interleave: InterleaveConfig = Field(default_factory=InterleaveConfig)
    bench: BenchSpec | None = None


class SizeSpec(StrictModel):
    """A model size: a TRAIN preset name; `params` (non-embedding N) may be given to skip counting."""
    preset: str
    params: int | None = Field(default=None, gt=0)


class MultiEpoch(StrictModel):
    """Repeat a subset of `unique_tokens` for `epochs` epochs (data-constrained fits)."""
    size: str
    unique_tokens: int = Field(gt=0)
    epochs: list[float] = Field(min_length=1)
    key: str = "data.max_tokens"  # the TRAIN config key that limits unique tokens


class GridSpec(StrictModel):
    sizes: list[SizeSpec | str] = Field(min_length=1)
    tokens_per_param: list[float] = Field(default_factory=list)
    flops: list[float] = Field(default_factory=list)  # IsoFLOP budgets, C = 6 N D
    multi_epoch: list[MultiEpoch] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    min_tokens: int = Field(default=1, ge=1)  # drop IsoFLOP points with fewer tokens than this

    @field_validator("sizes")
    @classmethod
    def _norm_sizes(cls, sizes: list[Any]) -> list[SizeSpec]:
        return [SizeSpec(preset=s) if isinstance(s, str) else s for s in sizes]

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
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    kind: ArmKind
    enabled: bool = True
    tasks: list[str] = Field(default_factory=list)
    shards: Path | None = None  # override the data section's shards for this arm
    grid: GridSpec | None = None  # override the study grid for this arm
    train: dict[str, Any] = Field(default_factory=dict)  # dotted TRAIN keys, e.g. train.lr: 1e-3
    # Interleaved arms: the text arm whose trained models (per size, the largest-compute run) are
    # extended and trained further. Default: the study's first text arm, unless `shards` is given
    # (prebuilt shards train from scratch unless an init_arm is named).
    init_arm: str | None = None

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        tasks = [TASK_ALIASES.get(t, t) for t in tasks]
        bad = [t for t in tasks if t not in TASKS]
        if bad:
            raise ValueError(f"unknown task(s) {bad}; choose from {list(TASKS)}")
        return tasks


class FitsSpec(StrictModel):
    loss: bool = True
    form: Literal["chinchilla", "data-constrained"] = "chinchilla"
    huber_delta: float = Field(default=0.03, gt=0)
    bootstrap: int = Field(default=200, ge=0)
    downstream: bool = True


class QuestionsSpec(StrictModel):
    flops: list[float] = Field(default_factory=list)  # "for budget C, which N and D?"
    targets: dict[str, float] = Field(default_factory=dict)  # "how much compute to reach metric=x?"
    arm: str | None = None  # which arm answers (default: the first units arm)


class ExecutionSpec(StrictModel):
    executor: Literal["local", "submitit"] = "local"
    jobs: int = Field(default=1, ge=1)
    threads_per_run: int | None = Field(default=None, ge=1)
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
    name: str = Field(default="study", pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    data: DataSpec = Field(default_factory=DataSpec)
    arms: list[ArmSpec] = Field(min_length=1)
    grid: GridSpec
    train: dict[str, Any] = Field(default_factory=dict)  # base TRAIN config, dotted or nested keys
    fits: FitsSpec = Field(default_factory=FitsSpec)
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
            mixed = [t for t in arm.tasks if t in CROSS_TASKS + TEXT_TASKS]
            if mixed and arm.kind != "interleaved":
                raise ValueError(f"arm {arm.name!r}: task {mixed[0]!r} needs a model that reads both text "
                                 "and speech (interleaved arms only)")
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
            if arm.enabled and arm.shards is None and self.data.corpus is None:
                needs = {"units": self.data.units.shards, "unigram": self.data.unigram.path,
                         "text": self.data.text.shards}.get(arm.kind)
                if needs is None:
                    raise ValueError(f"arm {arm.name!r}: no shards given and no data.corpus to build "
                                     "them from")
            if arm.enabled and arm.tasks and self.data.bench is None:
                raise ValueError(f"arm {arm.name!r} has tasks but data.bench is not set")
        if self.questions.arm is not None and self.questions.arm not in names:
            raise ValueError(f"questions.arm {self.questions.arm!r} is not an arm")
        return self

    def enabled_arms(self) -> list[ArmSpec]:
        return [a for a in self.arms if a.enabled]

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
    spec = load_config(StudySpec, path, overrides)
    return resolve_paths(spec, Path(path).resolve().parent)


def resolve_paths(spec: StudySpec, base: Path) -> StudySpec:
    def fix(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (base / p).resolve())

    d = spec.data
    if d.corpus is not None and d.corpus.path is not None:
        d.corpus.path = fix(d.corpus.path)
    d.units.path, d.units.shards, d.units.checkpoint = fix(d.units.path), fix(d.units.shards), \
        fix(d.units.checkpoint)
    d.unigram.path = fix(d.unigram.path)
    d.text.shards = fix(d.text.shards)
    if d.bench is not None:
        d.bench.path = fix(d.bench.path)
    for arm in spec.arms:
        arm.shards = fix(arm.shards)
    return spec
