"""`slmscale compare`: two groups of eval results on the same pairs, pair by pair.

One LM's score moves with its seed and with its encoder's pretraining seed (by up to 0.04 sWUGGY
accuracy on the built-in corpus), so a recipe is a group of results: several seeds, and possibly
several benchmark folders of the same task. Each pair's outcome (scoring.pair_outcomes) is
averaged over the group's results on that pair's benchmark folder; the difference between the two
groups is then taken pair by pair, on the pairs both groups scored. Its interval covers the pairs
(sBLIMP: within phenomena, macro-averaged, like its headline) and each group's seeds.

What the interval covers: which pairs the benchmark drew and, by default, which seeds each group
drew. A group's results are grouped into its independent draws: the pretrained encoder checkpoint
(else the tokenizer) its LMs' tokens come from, when the group's results use several; else each
LM. With several draws the interval adds the draws' variance to the pairs' and takes Student's t
with Satterthwaite's degrees of freedom (stats.draws_difference_interval), so two or three seeds
that disagree widen it as much as they should; with one draw per group it is the project's
bootstrap over pairs, as `eval` prints. Groups made of the same draws (two tokenizers of the same
checkpoints, say) are compared draw by draw. A group of one draw contributes no seed variance, and
the output says so.

The other group may be the benchmark's strongest surface baseline (`surface`), taken from each
folder's audit with its outcome on every pair. Results must share the task, its version (speech or
text) and the scoring (protocol, normalisation, truncation): a comparison across them measures the
scoring. Results of voice-normalised tokenizers must also have taken their benchmark voices'
statistics the same way (all of each voice's audio, or a fixed number of seconds); results of
other tokenizers record none and can be compared with any.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import META, read_json
from slmscale.errors import UserError
from slmscale.eval.formats import canonical_task, load_benchmark
from slmscale.eval.scoring import BREAKDOWNS, MACRO_HEADLINE, Comparison, pair_outcomes, verdict
from slmscale.eval.submission import read_submission
from slmscale.stats import LEVEL, draws_difference_interval, macro_mean, mean_interval, mean_over_draws

SURFACE = "surface"


@dataclass(frozen=True)
class Result:
    """One eval result folder (RUN/eval/<key>/ or an `eval --out` one), as its meta.json says."""

    folder: Path
    task: str       # the benchmark: swuggy, sblimp, ssc, tsc
    variant: str    # speech | text
    source: Path    # the task folder its pairs came from (resolved)
    root: Path      # the benchmark folder given to `slmscale eval` (its audit may sit there)
    split: str
    scoring: tuple[str, str, str]  # (protocol, normalize, truncation)
    voice_statistics: str | None = None  # voice-normalised tokenizers: "all" or "S s"
    tokens_from: str | None = None  # the encoder checkpoint or tokenizer its tokens come from
    run: str | None = None          # the LM's run folder


def locate_result(folder: str | Path, task: str | None = None) -> Path:
    """FOLDER itself, or with TASK the result under it: FOLDER/eval/<key> (a run folder) or
    FOLDER/<key> (an `eval --out` folder)."""
    folder = Path(folder)
    if task is not None and not (folder / META).is_file():
        key = canonical_task(task)
        for found in (folder / "eval" / key, folder / key):
            if (found / META).is_file():
                return found
    return folder


def read_result(folder: str | Path, task: str | None = None) -> Result:
    folder = locate_result(folder, task)
    meta = folder / META
    record = read_json(meta) if meta.is_file() else {}
    if record.get("kind") != "eval":
        hint = (" (a run folder: give RUN/eval/<key>, or --task)" if (folder / "final").is_dir() and task is None
                else f" (nor a run or `eval --out` folder holding a {task} result)" if task else "")
        raise UserError(f"{folder}: not an eval result, no meta.json of kind 'eval'{hint}")
    cfg = record.get("config") or {}
    if task is not None and cfg.get("task") != canonical_task(task):
        raise UserError(f"{folder}: holds a {cfg.get('task')} result, not {canonical_task(task)}")
    if cfg.get("variant") in ("t2s", "s2t"):
        raise UserError(f"{folder}: cross-modal results cannot be compared pair by pair yet")
    source = cfg.get("source") or cfg.get("bench")
    if not source or not cfg.get("benchmark"):
        raise UserError(f"{meta}: names no benchmark folder; score the run again with `slmscale eval`")
    # Truncation is in scores.json (results made before meta.json recorded it have it there too).
    scores = read_json(folder / "scores.json") if (folder / "scores.json").is_file() else {}
    truncation = cfg.get("truncation") or scores.get("truncation")
    return Result(folder, cfg["benchmark"], cfg.get("variant", "speech"), Path(source).resolve(),
                  Path(cfg.get("bench") or source), cfg.get("split", "dev"),
                  (str(cfg.get("protocol")), str(cfg.get("normalize")), str(truncation)),
                  cfg.get("voice_statistics"), cfg.get("tokens_from"), scores.get("run"))


class _Benches:
    """Each benchmark folder's pairs, read once however many results use it."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[Path, str, str, str], Any] = {}

    def get(self, r: Result) -> Any:
        key = (r.source, r.task, r.split, r.variant)
        if key not in self._loaded:
            if not r.source.exists():
                raise UserError(f"{r.folder}: its benchmark folder {r.source} is gone; the pairs are read from it")
            self._loaded[key] = load_benchmark(r.source, r.task, r.split, text=r.variant == "text")
        return self._loaded[key]


def outcomes_of(r: Result, benches: _Benches) -> dict[str, float]:
    """pair_id -> this result's outcome on the pair (mean over voices), from its submission file."""
    bench = benches.get(r)
    path = r.folder / f"{bench.split}.txt"
    if not path.is_file():
        raise UserError(f"{r.folder}: no {path.name}; score the run again with `slmscale eval`")
    scores = read_submission(path)
    return pair_outcomes(Comparison(p.pair_id, p.voice, scores[p.good], scores[p.bad])
                         for p in bench.pairs if p.good in scores and p.bad in scores)


Scored = list[tuple[Result, dict[str, float]]]  # each result with its outcome on each pair


def pooled(scored: Scored) -> dict[Path, dict[str, list[float]]]:
    """source -> pair_id -> the outcomes of each result of the group that scored the pair."""
    out: dict[Path, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r, outs in scored:
        for pid, o in outs.items():
            out[r.source][pid].append(o)
    return out


def surface_outcomes(sources: list[Result]) -> tuple[dict[Path, dict[str, list[float]]], dict[str, str]]:
    """The strongest surface baseline's outcome on each pair of each folder, and its name per folder."""
    from slmscale.eval.audit import strongest_baseline

    out: dict[Path, dict[str, list[float]]] = {}
    names: dict[str, str] = {}
    for r in sources:
        src = r.source
        if src in out:
            continue
        best = strongest_baseline(r.root, r.task)
        if not best or not best.get("by_pair"):
            raise UserError(f"{r.root}: no audit with per-pair outcomes for {r.task}; run "
                            f"`slmscale bench audit {r.root}` first")
        out[src] = {pid: [float(o)] for pid, o in best["by_pair"].items()}
        names[str(src)] = f"{best.get('baseline')} ({float(best['accuracy']):.3f})"
    return out, names


RESAMPLE = ("draws", "pairs")  # what the interval covers: the groups' draws and the pairs, or the pairs only
FEW_DRAWS = 3  # fewer draws than this: the seeds' variance rests on one degree of freedom (docs/eval.md)
_LEVELS = {"checkpoint": "encoder checkpoints", "tokenizer": "tokenizers", "text": "text tokenizers"}


@dataclass(frozen=True)
class Draws:
    """A group's independent draws: a label per result, and what the labels are."""

    labels: tuple[str, ...]
    level: str            # "encoder checkpoints", "tokenizers", ... or "LMs"
    unrecorded: int = 0   # results that do not record where their tokens come from
    source: str = ""      # with LMs as draws: the one source of their tokens, where recorded

    @property
    def count(self) -> int:
        return len(set(self.labels))


def draws_of(results: list[Result]) -> Draws:
    """The group's draws: the sources of its tokens (tokens_from) when its results use several,
    since LMs that read one pretrained encoder share its seed; else its LMs (results of one run
    on several benchmark folders are one draw)."""
    sources = [r.tokens_from for r in results]
    unrecorded = sum(s is None for s in sources)
    if not unrecorded and len(set(sources)) > 1:
        kinds = {str(s).split(":", 1)[0] for s in sources}
        level = _LEVELS.get(kinds.pop(), "token sources") if len(kinds) == 1 else "token sources"
        return Draws(tuple(map(str, sources)), level)
    one = str(sources[0]) if not unrecorded else ""
    return Draws(tuple(r.run or str(r.folder) for r in results), "LMs", unrecorded, one)


def _difference(task: str, a: np.ndarray, a_draws: Draws, b: np.ndarray, b_draws: Draws, paired: bool,
                resample: str, group_of: list[str], item_of: list[str]) -> dict[str, Any]:
    """B subtracted from A pair by pair (rows: results, columns: pairs, NaN where a result did not
    score the pair), with its interval and verdict. Pairs with the same item (`item_of`: the
    correct item's text) are resampled together; with `resample` "draws" so are the groups'
    draws, where a group has several. Each group's draws weigh the same, however many results each has."""
    diff = mean_over_draws(a, a_draws.labels) - mean_over_draws(b, b_draws.labels)
    clusters = item_of if len(set(item_of)) < len(item_of) else None  # None: the plain bootstrap eval prints
    groups = _macro_groups(task, group_of)
    value = macro_mean(diff, groups)
    df = draws_share = None
    if resample == "pairs" or (a_draws.count <= 1 and b_draws.count <= 1):
        lo, hi = mean_interval(diff, groups, clusters=clusters)  # no draws to cover: the pair bootstrap
    else:
        lo, hi, df, draws_share = draws_difference_interval(a, a_draws.labels, b, b_draws.labels, paired=paired,
                                                            clusters=clusters, groups=groups)
    return {"difference": value, "interval": [lo, hi], "verdict": verdict(lo, hi), "n_pairs": len(diff),
            "n_items": len(set(item_of)), "df": df if df is not None and np.isfinite(df) else None,
            "draws_share": draws_share}


def _macro_groups(task: str, group_of: list[str]) -> np.ndarray | None:
    """Each pair's group where the task's headline is a macro average over groups (sBLIMP's phenomena)."""
    return np.array(group_of) if task in MACRO_HEADLINE and any(group_of) else None


def _rows(scored: Scored, keys: dict[tuple[Path, str], int]) -> np.ndarray:
    """One row per result over the compared pairs (NaN where it did not score one)."""
    rows = np.full((len(scored), len(keys)), np.nan)
    for i, (r, outs) in enumerate(scored):
        for pid, o in outs.items():
            col = keys.get((r.source, pid))
            if col is not None:
                rows[i, col] = o
    return rows


def compare_results(a_folders: list[str | Path], b_folders: list[str | Path] | str, task: str | None = None,
                    resample: str = "draws") -> dict[str, Any]:
    """Group A against group B (result folders, or SURFACE): the paired difference over the pairs
    both scored, overall and per benchmark folder, and each result's accuracy on those pairs.
    With `task`, a run folder or an `eval --out` folder stands for its result of that task.
    `resample`: "draws" (the interval covers the groups' draws and the pairs) or "pairs"."""
    if resample not in RESAMPLE:
        raise UserError(f"--resample must be one of {', '.join(RESAMPLE)}, got {resample!r}")
    if not a_folders:
        raise UserError("give at least one eval result to compare")
    a = [read_result(f, task) for f in a_folders]
    surface = b_folders == SURFACE
    b = [] if surface else [read_result(f, task) for f in b_folders]
    if not surface and not b:
        raise UserError("--against: give eval results, or 'surface' for the benchmark's strongest surface baseline")
    everyone = a + b
    for what, values in (("task", {(r.task, r.variant) for r in everyone}),
                         ("scoring (protocol, normalize, truncation)", {r.scoring for r in everyone}),
                         ("voice statistics (eval --voice-seconds)",
                          {r.voice_statistics for r in everyone} - {None})):
        if len(values) > 1:
            raise UserError(f"the results differ in {what}: {', '.join(sorted(map(str, values)))}; "
                            "compare results scored the same way (score again with `slmscale eval`)")
    dupes = sorted({str(r.folder) for r in everyone if sum(s.folder.resolve() == r.folder.resolve()
                                                            for s in everyone) > 1})
    if dupes:
        raise UserError(f"{dupes[0]}: given more than once; each result counts once")
    task = a[0].task
    benches = _Benches()
    scored_a = [(r, outcomes_of(r, benches)) for r in a]
    scored_b = [(r, outcomes_of(r, benches)) for r in b]
    got_a = pooled(scored_a)
    got_b, baseline = surface_outcomes(a) if surface else (pooled(scored_b), {})
    for one, other, (has, lacks) in ((got_a, got_b, "AB"), (got_b, got_a, "BA")):
        alone = sorted(str(s) for s in one if s not in other)
        if alone:
            raise UserError(f"{alone[0]}: group {has} was scored on this benchmark folder and group {lacks} "
                            "was not; pairs are only compared where both groups scored them")
    keys: dict[tuple[Path, str], int] = {}  # (folder, pair id) -> column: pair ids are only unique within a folder
    group_of: list[str] = []
    item_of: list[str] = []
    cols_of: dict[Path, np.ndarray] = {}  # each folder's columns (one range: folders are taken in turn)
    macro_key = BREAKDOWNS.get(task) if task in MACRO_HEADLINE else None
    for src in sorted(got_a):
        common = sorted(set(got_a[src]) & set(got_b[src]))
        if not common:
            raise UserError(f"{src}: the two groups share no scored pair")
        pairs = benches.get(next(r for r in a if r.source == src)).pairs
        groups = {p.pair_id: str(p.group.get(macro_key, "")) for p in pairs} if macro_key else {}
        # A pair is known by its correct item's text where the benchmark gives it, else by its id here.
        item = {p.pair_id: f"text:{p.text}" if p.text else f"{src}:{p.pair_id}" for p in pairs}
        cols_of[src] = np.arange(len(keys), len(keys) + len(common))
        for p in common:
            keys[src, p] = len(keys)
            group_of.append(groups.get(p, ""))
            item_of.append(item[p])
    rows_a = _rows(scored_a, keys)
    if surface:
        rows_b = np.array([[got_b[src][pid][0] for src, pid in keys]])
        draws_b = Draws(("surface",), "the surface baseline")
    else:
        rows_b, draws_b = _rows(scored_b, keys), draws_of(b)
    draws_a = draws_of(a)
    paired = (not surface and draws_a.count > 1 and draws_a.level == draws_b.level
              and set(draws_a.labels) == set(draws_b.labels))

    def difference(cols: np.ndarray) -> dict[str, Any]:
        ra, rb = rows_a[:, cols], rows_b[:, cols]
        keep_a, keep_b = np.isfinite(ra).any(axis=1), np.isfinite(rb).any(axis=1)  # results on these pairs
        da = Draws(tuple(np.array(draws_a.labels)[keep_a]), draws_a.level)
        db = Draws(tuple(np.array(draws_b.labels)[keep_b]), draws_b.level)
        return _difference(task, ra[keep_a], da, rb[keep_b], db, paired and set(da.labels) == set(db.labels),
                           resample, [group_of[i] for i in cols], [item_of[i] for i in cols])

    groups = _macro_groups(task, group_of)

    def accuracy(rows: np.ndarray, d: Draws, cols: np.ndarray | slice = slice(None)) -> float:
        """The headline (macro where the task's is) of a group's outcomes, its draws weighing the same."""
        return macro_mean(mean_over_draws(rows[:, cols], d.labels), None if groups is None else groups[cols])

    per_bench: dict[str, Any] = {}
    for src, cols in cols_of.items():
        per_bench[str(src)] = {**difference(cols), "accuracy_a": accuracy(rows_a, draws_a, cols),
                               "accuracy_b": accuracy(rows_b, draws_b, cols)}

    def each(scored: Scored, rows: np.ndarray) -> list[dict[str, Any]]:
        return [{"result": str(r.folder), "bench": str(r.source), "accuracy": macro_mean(row, groups)}
                for (r, _), row in zip(scored, rows)]

    def described(d: Draws, rows: np.ndarray) -> dict[str, Any]:
        out = {"count": d.count, "level": d.level, "unrecorded": d.unrecorded, "source": d.source}
        if d.count > 1:  # what the draws' share of the variance comes from
            labels = np.array(d.labels)
            out["accuracy"] = {str(k): macro_mean(mean_over_draws(rows[labels == k]), groups)
                               for k in sorted(set(d.labels))}
        return out

    return {"task": task, "variant": a[0].variant, "protocol": a[0].scoring[0], "normalize": a[0].scoring[1],
            "truncation": a[0].scoring[2],
            **difference(np.arange(len(keys))), "interval_level": LEVEL,
            "resample": resample, "draws": {"a": described(draws_a, rows_a), "b": described(draws_b, rows_b), "paired": paired},
            "accuracy_a": accuracy(rows_a, draws_a), "accuracy_b": accuracy(rows_b, draws_b),
            "a": each(scored_a, rows_a), "b": SURFACE if surface else each(scored_b, rows_b),
            "baseline": baseline or None, "benches": per_bench,
            "fewest_results": min(_results_per_folder(scored_a, scored_b))}


def _results_per_folder(*groups: Scored) -> list[int]:
    """How many results each group has on each benchmark folder (the surface baseline counts none)."""
    return [sum(r.source == src for r, _ in g) for g in groups if g for src in {r.source for r, _ in g}]


def format_comparison(c: dict[str, Any]) -> str:
    """The comparison for people: the verdict line, then the per-folder and per-result lines."""
    lo, hi = c["interval"]
    b_name = "the strongest surface baseline" if c["b"] == SURFACE else f"B ({len(c['b'])} result(s))"
    lines = [f"{c['task']}: A ({len(c['a'])} result(s)) {c['accuracy_a']:.3f} - {b_name} {c['accuracy_b']:.3f} "
             f"= {c['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] over {c['n_pairs']} pairs{_items(c)} "
             f"({len(c['benches'])} benchmark folder(s)): {c['verdict']}"]
    if len(c["benches"]) > 1 or c["baseline"]:
        for src, v in c["benches"].items():
            blo, bhi = v["interval"]
            base = f", baseline {c['baseline'][src]}" if c["baseline"] else ""
            lines.append(f"  {src}: {v['difference']:+.3f} [{blo:+.3f}, {bhi:+.3f}] over {v['n_pairs']} pairs{_items(v)}"
                         f"{base}: {v['verdict']}")
    for side in ("a", "b"):
        if c[side] == SURFACE:
            continue
        for row in c[side]:
            lines.append(f"  {side.upper()} {row['result']}: {row['accuracy']:.3f}")
    lines.extend(_coverage(c))
    return "\n".join(lines)


def _coverage(c: dict[str, Any]) -> list[str]:
    """What the interval covers, in words: the pairs, and which of the groups' draws."""
    if c["resample"] == "pairs":
        return ["  --resample pairs: the interval covers the pairs drawn, not the seeds"]
    d = c["draws"]
    sides = [(side.upper(), d[side]) for side in ("a", "b") if c[side] != SURFACE]
    lines = [f"  {name} is one {x['level'].rstrip('s')}: the interval covers the pairs drawn, not the seed; "
             "compare several seeds per group" for name, x in sides if x["count"] == 1]
    several = [f"{name} {x['count']} {x['level']}" for name, x in sides if x["count"] > 1]
    if several:
        lines.append(f"  the interval covers the pairs drawn and the draws: {', '.join(several)}"
                     + (" (the same in both groups, compared draw by draw)" if d["paired"] else ""))
    for name, x in sides:
        if x.get("accuracy") and x["level"] != "LMs":  # LMs: the per-result lines above say it
            lines.append(f"  {name}'s draws: " + ", ".join(f"{_short(k)} {v:.3f}" for k, v in x["accuracy"].items()))
    if several and c.get("draws_share") is not None:
        lines.append(f"  the draws make up {100 * c['draws_share']:.0f} % of the variance; t with {_df(c['df'])} "
                     "degrees of freedom" + ("" if c["draws_share"] else
                                              " (the draws differ no more than their pairs' noise)"))
    few = [name for name, x in sides if 1 < x["count"] < FEW_DRAWS]
    if few:  # the draws' variance then rests on one degree of freedom (docs/eval.md)
        lines.append(f"  {' and '.join(few)}: {FEW_DRAWS - 1} draws estimate the seeds' variance poorly "
                     "(simulated: about 88 % coverage with 2, 93 % with 3 or more); more seeds make it honest")
    for name, x in sides:
        if x.get("source", "").startswith("checkpoint:"):
            lines.append(f"  {name}'s LMs read one pretrained encoder: its pretraining seed is not covered")
        if x["unrecorded"] and x["count"] > 1:
            lines.append(f"  {x['unrecorded']} result(s) of {name} do not record where their tokens come from "
                         "(scored before slmscale recorded it): each LM counts as a draw")
    return lines


def _short(label: str) -> str:
    """A draw's label for people: a checkpoint's or tokenizer's hash cut to 12 characters."""
    kind, _, rest = label.partition(":")
    return f"{kind}:{rest[:12]}" if rest and kind in _LEVELS else label


def _df(df: float | None) -> str:
    return "many" if df is None or df >= 1000 else f"{df:.1f}"


def _items(v: dict[str, Any]) -> str:
    """', N distinct items' where pairs share items (the interval then treats each item's pairs as one cluster)."""
    return f", {v['n_items']} distinct items" if v["n_items"] < v["n_pairs"] else ""
