"""A whole study: build the data stages (cached), expand and execute the runs, collect, fit, report.

Data stages run in order, each through its `slmscale` command in a subprocess (the CLI is the
stable contract between stages, and a crash in one stage cannot corrupt the study runner):
  synth corpus -> units fit -> units encode (-> units unigram) -> text shards
  (-> model extend --tokenizer: the text tokenizer + K units -> data interleave) -> synth bench.
Interleaved shards are built once per text tokenizer: the extended tokenizer gives text tokens the
text tokenizer's ids, so one shard set serves every model size (checked per run when its starting
model is made, slmscale.study.warm_start).
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
from slmscale.data.shards import interleaved_tokenizer, is_shards
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.study.spec import StudySpec, bench_task


@dataclass
class StudyData:
    manifest: Path | None = None
    shards: dict[str, Path] = field(default_factory=dict)  # arm name -> shards dir
    bench: dict[str, Path] = field(default_factory=dict)  # task -> folder given to `slmscale eval`
    stages: dict[str, str] = field(default_factory=dict)  # stage -> "built" | "cached" | "given"
    # interleaved arm -> {"arm": text arm, "tokenizer": text tokenizer dir, "k": K} (starts from text)
    init: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    interleave = [a for a in arms if a.kind == "interleaved" and a.shards is None]
    need_units = ("units" in kinds and d.units.shards is None) or \
                 ("unigram" in kinds and d.unigram.path is None and d.units.shards is None) or \
                 (bool(interleave) and d.units.shards is None)
    need_manifest = need_units or ("text" in kinds and d.text.shards is None) or bool(interleave)

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
        if arm.kind == "interleaved" and arm.shards is None:
            continue  # built below, from the text arm's tokenizer
        src = arm.shards or by_kind.get(arm.kind)
        if src is None:
            raise UserError(f"arm {arm.name!r}: no shards for kind {arm.kind!r}")
        out.shards[arm.name] = find_shards(Path(src))
    for arm in arms:
        init = spec.init_arm_of(arm)
        if init is None:
            continue
        text_tok, tok_fp = _text_tokenizer(out.shards[init], init)
        units_dir = find_shards(Path(units_shards)) if units_shards is not None else None
        if arm.shards is None:
            out.shards[arm.name] = _interleave_stages(spec, data_dir, log, out, init, text_tok, tok_fp, units_dir)
        k = int(interleaved_tokenizer(out.shards[arm.name], f"arm {arm.name!r}: ")["k"])
        out.init[arm.name] = {"arm": init, "tokenizer": str(text_tok), "k": k}

    tasks = sorted({t for a in arms for t in a.tasks})
    if tasks and d.bench is not None:
        if d.bench.path is not None:  # EVAL finds each task's folder under a benchmark root
            out.bench, out.stages["bench"] = {t: d.bench.path for t in tasks}, "given"
        else:
            # Cross-modal and text versions of a task read the same folder as the task itself.
            for task in sorted({bench_task(t) for t in tasks}):
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
                    key = {"args": args[4:], **_bench_layout(task)}
                    _stage(data_dir, f"bench-{task}", tdir, key, lambda a=args: _run_cli(a, log), out.stages)
                except UserError as err:  # the runs still train; their evals report the gap
                    info(f"[study] warning: benchmark {task} could not be built: {err}")
                    out.stages[f"bench-{task}"] = f"failed: {err}"
                    del out.bench[task]
            out.bench.update({t: out.bench[bench_task(t)] for t in tasks if bench_task(t) in out.bench})
    return out


def _bench_layout(task: str) -> dict[str, Any]:
    """The benchmark builder's layout version of a task (e.g. StoryCloze folders gained crossmodal/),
    so a study rebuilds a benchmark folder made by an older layout instead of calling it cached."""
    try:
        from slmscale.eval.synth_bench import LAYOUT
        from slmscale.eval.formats import canonical_task

        return {"layout": LAYOUT[canonical_task(task)]}
    except (ImportError, KeyError, UserError):
        return {}


def _text_tokenizer(text_shards: Path, arm: str) -> tuple[Path, str]:
    """The text tokenizer dir a text arm's shards were made with, and its fingerprint."""
    tok = read_json(text_shards / META).get("tokenizer") or {}
    if tok.get("kind") != "text" or not tok.get("path"):
        raise UserError(f"arm {arm!r}: its shards {text_shards} do not name a text tokenizer "
                        "(meta.json tokenizer.path); interleaved arms extend it")
    return Path(tok["path"]), str(tok.get("fingerprint", ""))


def _interleave_stages(spec: StudySpec, data_dir: Path, log: Path, out: StudyData, init: str, text_tok: Path,
                       tok_fp: str, units: Path | None) -> Path:
    """The text tokenizer extended with the study's K units, then the interleaved shards (cached)."""
    if units is None or out.manifest is None:
        raise UserError("interleaved shards need the corpus manifest and unit shards (data.corpus, data.units)")
    k = int(read_json(units / META).get("tokenizer", {}).get("k", 0))
    root = data_dir / "interleaved" / init
    ext, shards = root / "tokenizer", root / "shards"
    args = ["model", "extend", "--tokenizer", str(text_tok), "--units", str(k), "--out", str(ext)]
    _stage(data_dir, f"interleave-tokenizer-{init}", ext, {"args": args[2:], "tokenizer": tok_fp},
           lambda: _run_cli(args, log), out.stages)
    c = spec.data.interleave
    mix = f"{c.mix.text:g},{c.mix.interleaved:g},{c.mix.speech:g}"
    args = ["data", "interleave", "--manifest", str(out.manifest), "--units", str(units), "--tokenizer", str(ext),
            "--out", str(shards), "--speech-ratio", f"{c.speech_ratio:g}", "--span-lambda", f"{c.span_lambda:g}",
            "--mix", mix, "--time-rule", c.time_rule, "--seed", str(c.seed)]
    if not c.mark_single_modality:
        args.append("--no-single-modality-marks")
    _stage(data_dir, f"interleaved-{init}", shards,
           {"args": args[2:], "manifest": _file_hash(out.manifest), "units": _meta_fp(units),
            "tokenizer": _meta_fp(ext)}, lambda: _run_cli(args, log), out.stages)
    return shards


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
    from slmscale.study.expand import default_param_counter, dependencies, expand
    from slmscale.study.warm_start import init_model_dir
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
    deps = dependencies(runs)
    for r in runs:
        root = study_dir / "runs" / r.run_id
        init = None
        if r.init_run:
            k = data.init[r.arm]["k"]
            init = {"run_id": r.init_run, "root": str(study_dir / "runs" / r.init_run), **data.init[r.arm],
                    "model": str(init_model_dir(study_dir, r.init_run, k))}
        prepare_run(root, r, data.shards[r.arm], data.bench, init)
        if needs_work(RunPaths(root), ex.retry_failed):
            todo.append((r.run_id, dict(root=str(root), trainer=ex.trainer, evaluator=ex.evaluator,
                                        threads=threads, retry_failed=ex.retry_failed,
                                        timeout=ex.timeout_s, extender=ex.extender)))
    # Runs that others start from go first, so their dependents can start as early as possible.
    needed = {d for ds in deps.values() for d in ds}
    todo.sort(key=lambda item: item[0] not in needed)
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

        make_executor(spec, study_dir, executor or ex.executor, jobs).run_all(todo, on_done, deps)
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
