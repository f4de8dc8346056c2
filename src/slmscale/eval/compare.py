"""`slmscale compare`: two groups of eval results on the same pairs, pair by pair.

One LM's score moves with its seed and with its encoder's pretraining seed (by up to 0.04 sWUGGY
accuracy on the built-in corpus), so a recipe is a group of results: several seeds, and possibly
several benchmark folders of the same task. Each pair's outcome (scoring.pair_outcomes) is
averaged over the group's results on that pair's benchmark folder; the difference between the two
groups is then taken pair by pair, on the pairs both groups scored, and its interval is the
project's bootstrap over pairs (sBLIMP: within phenomena, macro-averaged, like its headline).

What the interval covers: which pairs the benchmark drew. It does not cover which seeds were
drawn; the per-result accuracies are printed beside it so that spread is in view, and one result
per group is flagged as such.

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
from slmscale.stats import LEVEL, mean_interval

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
                  cfg.get("voice_statistics"))


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


def _difference(task: str, a: dict[Any, float], b: dict[Any, float], group_of: dict[Any, str],
                item_of: dict[Any, str]) -> dict[str, Any]:
    """B subtracted from A pair by pair (keys: pairs), with its interval and verdict. Pairs with
    the same item (`item_of`: the correct item's text) are resampled together."""
    pids = sorted(a)
    diff = np.array([a[p] - b[p] for p in pids])
    items = [item_of[p] for p in pids]
    clusters = items if len(set(items)) < len(items) else None  # None: the plain bootstrap eval prints
    macro = task in MACRO_HEADLINE and group_of
    if macro:
        groups = np.array([group_of.get(p, "") for p in pids])
        means = [diff[groups == g].mean() for g in sorted(set(groups))]
        value, (lo, hi) = float(np.mean(means)), mean_interval(diff, groups, clusters=clusters)
    else:
        value, (lo, hi) = float(diff.mean()), mean_interval(diff, clusters=clusters)
    return {"difference": value, "interval": [lo, hi], "verdict": verdict(lo, hi), "n_pairs": len(pids),
            "n_items": len(set(items))}


def compare_results(a_folders: list[str | Path], b_folders: list[str | Path] | str, task: str | None = None
                    ) -> dict[str, Any]:
    """Group A against group B (result folders, or SURFACE): the paired difference over the pairs
    both scored, overall and per benchmark folder, and each result's accuracy on those pairs.
    With `task`, a run folder or an `eval --out` folder stands for its result of that task."""
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
    mean_a: dict[tuple[Path, str], float] = {}  # (folder, pair id): pair ids are only unique within a folder
    mean_b: dict[tuple[Path, str], float] = {}
    group_of: dict[tuple[Path, str], str] = {}
    item_of: dict[tuple[Path, str], str] = {}
    per_bench: dict[str, Any] = {}
    macro_key = BREAKDOWNS.get(task) if task in MACRO_HEADLINE else None
    for src in sorted(got_a):
        common = sorted(set(got_a[src]) & set(got_b[src]))
        if not common:
            raise UserError(f"{src}: the two groups share no scored pair")
        pairs = benches.get(next(r for r in a if r.source == src)).pairs
        groups = {p.pair_id: str(p.group.get(macro_key, "")) for p in pairs} if macro_key else {}
        # A pair is known by its correct item's text where the benchmark gives it, else by its id here.
        item = {p.pair_id: f"text:{p.text}" if p.text else f"{src}:{p.pair_id}" for p in pairs}
        pa = {p: float(np.mean(got_a[src][p])) for p in common}
        pb = {p: float(np.mean(got_b[src][p])) for p in common}
        per_bench[str(src)] = {**_difference(task, pa, pb, groups, item),
                               "accuracy_a": float(np.mean(list(pa.values()))),
                               "accuracy_b": float(np.mean(list(pb.values())))}
        for p in common:
            mean_a[src, p], mean_b[src, p] = pa[p], pb[p]
            group_of[src, p], item_of[src, p] = groups.get(p, ""), item[p]

    def each(scored: Scored) -> list[dict[str, Any]]:
        return [{"result": str(r.folder), "bench": str(r.source),
                 "accuracy": float(np.mean([o for pid, o in outs.items() if (r.source, pid) in mean_a]))}
                for r, outs in scored]

    return {"task": task, "variant": a[0].variant, "protocol": a[0].scoring[0], "normalize": a[0].scoring[1],
            "truncation": a[0].scoring[2],
            **_difference(task, mean_a, mean_b, group_of, item_of), "interval_level": LEVEL,
            "accuracy_a": float(np.mean(list(mean_a.values()))), "accuracy_b": float(np.mean(list(mean_b.values()))),
            "a": each(scored_a), "b": SURFACE if surface else each(scored_b), "baseline": baseline or None,
            "benches": per_bench, "fewest_results": min(_results_per_folder(scored_a, scored_b))}


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
    if c["fewest_results"] == 1:
        lines.append("  one result of a group on a folder: the interval covers the pairs drawn, not the seed; "
                     "compare several seeds per group")
    return "\n".join(lines)


def _items(v: dict[str, Any]) -> str:
    """', N distinct items' where pairs share items (the interval resamples items then)."""
    return f", {v['n_items']} distinct items" if v["n_items"] < v["n_pairs"] else ""
