"""A whole study: build the data stages (cached), expand and execute the runs, collect, fit, report.

Data stages run in order, each through its `slmscale` command in a subprocess (the CLI is the
stable contract between stages, and a crash in one stage cannot corrupt the study runner):
  synth corpus -> units fit -> units encode (-> units unigram) -> text shards -> synth bench.
Each stage is skipped when its output holds a meta.json and the study's record of the stage
(`DIR/data/.stages/<name>.json`: the command's arguments and input hashes) is unchanged.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from slmscale.artifacts import META, read_json, sha256_file, sha256_json, write_json
from slmscale.data.shards import is_shards
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.study.spec import StudySpec


@dataclass
class StudyData:
    manifest: Path | None = None
    shards: dict[str, Path] = field(default_factory=dict)  # arm name -> shards dir
    bench: dict[str, Path] = field(default_factory=dict)  # task -> folder given to `slmscale eval`
    stages: dict[str, str] = field(default_factory=dict)  # stage -> "built" | "cached" | "given"


def slmscale_cmd() -> list[str]:
    return [sys.executable, "-m", "slmscale.cli.main"]


def _run_cli(args: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"\n$ slmscale {' '.join(args)}\n")
        fh.flush()
        rc = subprocess.call([*slmscale_cmd(), *args], stdout=fh, stderr=subprocess.STDOUT)
    if rc != 0:
        lines = log.read_text(errors="replace").strip().splitlines()
        errs = [ln for ln in lines if ln.startswith("error:")]
        last = (errs or lines or ["(no output)"])[-1]
        raise UserError(f"data stage `slmscale {' '.join(args[:2])}` failed ({last.strip()}); "
                        f"full log: {log}")


def _stage(data_dir: Path, name: str, out: Path, key: dict[str, Any], build: Callable[[], None],
           record: dict[str, str]) -> None:
    """Run `build` unless `out` is finished and was made from the same `key`."""
    stamp = data_dir / ".stages" / f"{name}.json"
    fp = sha256_json(key)
    done = (out / META).is_file() or (out / "manifest.jsonl").is_file()
    if done and stamp.is_file() and read_json(stamp).get("fingerprint") == fp:
        record[name] = "cached"
        return
    info(f"[study] building {name} -> {out}")
    t0 = time.time()
    build()
    write_json(stamp, {"fingerprint": fp, "key": key, "seconds": round(time.time() - t0, 2)})
    record[name] = "built"


def _file_hash(path: Path) -> str:
    return sha256_file(path) if path.is_file() else ""


def _meta_fp(path: Path) -> str:
    meta = path / META
    return read_json(meta).get("fingerprint", "") if meta.is_file() else ""


def find_shards(path: Path) -> Path:
    """A stage output that is a shards dir itself or holds one under shards/."""
    for cand in (path, path / "shards"):
        if is_shards(cand):
            return cand
    raise UserError(f"{path}: no token shards here (expected tokens.bin + meta.json)")


def prepare_data(spec: StudySpec, study_dir: Path) -> StudyData:
    d, arms = spec.data, spec.enabled_arms()
    data_dir = study_dir / "data"
    log = data_dir / "stages.log"
    out = StudyData()
    kinds = {a.kind for a in arms if a.shards is None}
    need_units = ("units" in kinds and d.units.shards is None) or \
                 ("unigram" in kinds and d.unigram.path is None and d.units.shards is None)
    need_manifest = need_units or ("text" in kinds and d.text.shards is None)

    if need_manifest:
        if d.corpus is None:
            raise UserError("data.corpus: needed to build shards; give a corpus path or synth settings")
        if d.corpus.synth is not None:
            s = d.corpus.synth
            cdir = data_dir / "corpus"
            args = ["synth", "corpus", "--out", str(cdir), "--seed", str(s.seed)]
            args += ["--hours", f"{s.hours:g}"] if s.hours is not None else ["--stories", str(s.stories)]
            if s.voices:
                args += ["--voices", ",".join(s.voices)]
            _stage(data_dir, "corpus", cdir, {"args": args[3:]}, lambda: _run_cli(args, log), out.stages)
            out.manifest = cdir / "manifest.jsonl"
        else:
            p = d.corpus.path
            out.manifest = p / "manifest.jsonl" if p.is_dir() else p
            if not out.manifest.is_file():
                raise UserError(f"data.corpus.path: {out.manifest} not found")
            out.stages["corpus"] = "given"

    units_shards = d.units.shards
    if need_units:
        tok = d.units.path
        if tok is None:
            tok = data_dir / "tokenizer"
            args = ["units", "fit", "--manifest", str(out.manifest), "--encoder", d.units.encoder,
                    "--k", str(d.units.k), "--out", str(tok)]
            if d.units.checkpoint is not None:
                args += ["--checkpoint", str(d.units.checkpoint)]
            if d.units.layer is not None:
                args += ["--layer", str(d.units.layer)]
            _stage(data_dir, "tokenizer", tok, {"args": args[2:], "manifest": _file_hash(out.manifest)},
                   lambda: _run_cli(args, log), out.stages)
        units_shards = data_dir / "units"
        args = ["units", "encode", "--tokenizer", str(tok), "--manifest", str(out.manifest),
                "--out", str(units_shards)] + ([] if d.units.dedup else ["--no-dedup"])
        _stage(data_dir, "units", units_shards,
               {"args": args[2:], "manifest": _file_hash(out.manifest), "tokenizer": _meta_fp(tok)},
               lambda: _run_cli(args, log), out.stages)
    unigram = d.unigram.path
    if "unigram" in kinds and unigram is None:
        unigram = data_dir / "unigram"
        src = find_shards(units_shards)
        args = ["units", "unigram", "--shards", str(src), "--vocab-size", str(d.unigram.vocab_size),
                "--out", str(unigram)]
        _stage(data_dir, "unigram", unigram, {"args": args[2:], "units": _meta_fp(src)},
               lambda: _run_cli(args, log), out.stages)
    text = d.text.shards
    if "text" in kinds and text is None:
        from slmscale.study.text_data import build_text_shards

        text = data_dir / "text"
        manifest = out.manifest
        _stage(data_dir, "text", text / "shards",
               {"vocab_size": d.text.vocab_size, "stories": d.text.stories, "seed": d.text.seed,
                "manifest": _file_hash(manifest)},
               lambda: build_text_shards(manifest, text, d.text.vocab_size, d.text.stories, d.text.seed),
               out.stages)
    by_kind = {"units": units_shards, "unigram": unigram, "text": text}
    for arm in arms:
        src = arm.shards or by_kind.get(arm.kind)
        if src is None:
            raise UserError(f"arm {arm.name!r}: no shards for kind {arm.kind!r}")
        out.shards[arm.name] = find_shards(Path(src))

    tasks = sorted({t for a in arms for t in a.tasks})
    if tasks and d.bench is not None:
        if d.bench.path is not None:  # EVAL finds each task's folder under a benchmark root
            out.bench, out.stages["bench"] = {t: d.bench.path for t in tasks}, "given"
        else:
            for task in tasks:
                tdir = out.bench[task] = data_dir / "bench" / task
                args = ["synth", "bench", "--out", str(tdir), "--task", task, "--seed", str(d.bench.seed)]
                if d.bench.voices:
                    args += ["--voices", ",".join(d.bench.voices)]
                if d.bench.n:
                    args += ["--n", str(d.bench.n)]
                if d.bench.matched:
                    args += ["--matched"]
                args += list(d.bench.extra_args)
                try:
                    _stage(data_dir, f"bench-{task}", tdir, {"args": args[4:]},
                           lambda a=args: _run_cli(a, log), out.stages)
                except UserError as err:  # the runs still train; their evals report the gap
                    info(f"[study] warning: benchmark {task} could not be built: {err}")
                    out.stages[f"bench-{task}"] = f"failed: {err}"
                    del out.bench[task]
    return out


def shards_fingerprints(data: StudyData) -> dict[str, str]:
    """Per arm: the fingerprint of its shards (enters the run ids, not the path)."""
    return {arm: _meta_fp(p) for arm, p in data.shards.items()}


def make_executor(spec: StudySpec, study_dir: Path, executor: str, jobs: int):
    from slmscale.study.runners import LocalExecutor, SubmititExecutor

    if executor == "local":
        return LocalExecutor(jobs)
    cluster = spec.execution.slurm.get("cluster")
    params = {k: v for k, v in spec.execution.slurm.items() if k != "cluster"}
    return SubmititExecutor(study_dir / "submitit", jobs=jobs, cluster=cluster, parameters=params)


def run_study(spec: StudySpec, study_dir: str | Path, executor: str | None = None,
              jobs: int | None = None, count_params: Callable[[str], int] | None = None,
              report: bool = True) -> dict[str, Any]:
    """Build data, execute every run not yet done, rebuild the results, fit, and write the report."""
    import os

    import yaml

    from slmscale.artifacts import atomic_write_text
    from slmscale.progress import make_progress
    from slmscale.study import analysis, store
    from slmscale.study.expand import default_param_counter, expand
    from slmscale.study.runners import RunPaths, needs_work, prepare_run

    study_dir = Path(study_dir).resolve()
    study_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    atomic_write_text(study_dir / "study.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    data = prepare_data(spec, study_dir)
    runs = expand(spec, shards_fingerprints(data), count_params or default_param_counter)
    write_json(study_dir / "plan.json", {"runs": [r.to_dict() for r in runs], "data": {
        "manifest": str(data.manifest) if data.manifest else None,
        "shards": {k: str(v) for k, v in data.shards.items()},
        "bench": {k: str(v) for k, v in data.bench.items()}, "stages": data.stages}})
    ex = spec.execution
    jobs = jobs or ex.jobs
    threads = ex.threads_per_run or max(1, (os.cpu_count() or 1) // jobs)
    todo = []
    for r in runs:
        root = study_dir / "runs" / r.run_id
        prepare_run(root, r, data.shards[r.arm], data.bench)
        if needs_work(RunPaths(root), ex.retry_failed):
            todo.append((r.run_id, dict(root=str(root), trainer=ex.trainer, evaluator=ex.evaluator,
                                        threads=threads, retry_failed=ex.retry_failed,
                                        timeout=ex.timeout_s)))
    info(f"[study] {len(runs)} runs planned, {len(runs) - len(todo)} already done, {len(todo)} to run "
         f"({executor or ex.executor}, {jobs} worker(s), {threads} thread(s) each)")
    states: dict[str, str] = {}
    with make_progress("run") as prog:
        task = prog.add_task("runs", total=len(todo), rate="")

        def on_done(run_id: str, state: str) -> None:
            states[run_id] = state
            prog.update(task, advance=1)
            if not state.startswith("finished"):
                info(f"[study] {run_id}: {state}")
            store.write_results(study_dir)  # the table is always current, and always rebuildable

        make_executor(spec, study_dir, executor or ex.executor, jobs).run_all(todo, on_done)
    rows = store.write_results(study_dir)
    fits = analysis.analyse(spec, study_dir, rows)
    fits["wall_s"] = round(time.time() - t0, 2)
    write_json(study_dir / "fits.json", analysis.public(fits))
    result = {"runs": len(runs), "ran": len(todo), "states": states, "fits": fits,
              "study_dir": str(study_dir)}
    if report:
        from slmscale.study.report import write_report

        result["report"] = str(write_report(study_dir, spec, rows, fits))
    return result
