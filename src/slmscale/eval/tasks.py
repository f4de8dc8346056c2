"""The one task registry: every benchmark task slmscale scores, and what it means.

A task's `name` is at once its canonical name, the key `slmscale eval` writes into a run's
summary.json and the column of a study's results table (DESIGN.md: swuggy, sblimp, ssc, tsc, ...).
Each task is a variant of one speech benchmark (`benchmark`, whose folder under a benchmark root
is `folder`): the spoken items (`speech`), their text versions read after <text> by interleaved
runs (`text`, `<task>_text`), or cross-modal StoryCloze (`t2s`: text context, spoken ending; `s2t`
the reverse). A text run scored on a speech benchmark reads its text version but keeps the plain
name (its only version). Every task compares a correct with an incorrect item, so chance is 0.5.
The spec, the study store and report, and eval all read this table; add a task here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from slmscale.errors import UserError


@dataclass(frozen=True)
class Task:
    name: str  # canonical name = summary.json key = results column
    benchmark: str  # the speech benchmark whose folder serves it
    variant: str  # speech | text | t2s | s2t
    folder: str  # the benchmark's folder under a benchmark root
    layout: str  # zerospeech (wavs + gold.csv) | storycloze (pairs of wavs + index.csv)
    aliases: tuple[str, ...] = ()
    chance: float = 0.5

    @property
    def column(self) -> str:
        return self.name

    @property
    def modality(self) -> str:
        """speech | text | cross: which kinds of run can score it (cross and text: interleaved)."""
        return {"speech": "speech", "text": "text"}.get(self.variant, "cross")


_BENCHMARKS = (  # name, long name (alias), folder, layout
    ("swuggy", "lexical", "lexical", "zerospeech"),
    ("sblimp", "syntactic", "syntactic", "zerospeech"),
    ("ssc", "sstorycloze", "sStoryCloze", "storycloze"),
    ("tsc", "tstorycloze", "tStoryCloze", "storycloze"),
)


def _build() -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for name, long, folder, layout in _BENCHMARKS:
        tasks[name] = Task(name, name, "speech", folder, layout, (long,))
    for name, long, folder, layout in _BENCHMARKS:
        # Text versions keep the long names (sstorycloze_text), as eval has always written them.
        text = f"{name if layout == 'zerospeech' else long}_text"
        alias = f"{name}_text"
        tasks[text] = Task(text, name, "text", folder, layout, (alias,) if alias != text else ())
    for name, long, folder, layout in _BENCHMARKS:
        if layout != "storycloze":
            continue
        for direction in ("t2s", "s2t"):
            cross = f"{long}_{direction}"
            tasks[cross] = Task(cross, name, direction, folder, layout, (f"{name}_{direction}",))
    return tasks


TASKS: dict[str, Task] = _build()
_ALIASES = {a: t.name for t in TASKS.values() for a in t.aliases}


def get_task(name: str) -> Task:
    """The registered task for a name or alias (case-insensitive); a one-line error otherwise."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TASKS:
        raise UserError(f"unknown task {name!r}; choose one of {', '.join(TASKS)} "
                        "(aliases: sstorycloze, tstorycloze, ssc_t2s, ...)")
    return TASKS[key]


def canonical_task(name: str) -> str:
    return get_task(name).name


def task_parts(name: str) -> tuple[str, str]:
    """(benchmark, variant) of a task name; variant is speech, text, t2s or s2t."""
    t = get_task(name)
    return t.benchmark, t.variant


def names(variant: str | None = None, modality: str | None = None) -> list[str]:
    """Registered task names in table order, optionally only one variant or modality."""
    return [t.name for t in TASKS.values()
            if (variant is None or t.variant == variant) and (modality is None or t.modality == modality)]


def result_columns() -> list[str]:
    """The benchmark columns of a results table, in order (speech, text versions, cross-modal)."""
    return [TASKS[n].column for n in names()]


def text_version(benchmark: str) -> str:
    """The `<task>_text` name of a speech benchmark's text version."""
    return next(t.name for t in TASKS.values() if t.benchmark == benchmark and t.variant == "text")


def cross_task(benchmark: str, direction: str) -> str:
    return next(t.name for t in TASKS.values() if t.benchmark == benchmark and t.variant == direction)
