"""A whole study's data: each stage built once (cached), in order, through the study's executor.

  corpus (synth) [-> phonenet | pretrain] -> units-fit -> units-encode (-> unigram) -> text
  (arms with their own corpus, data.corpora: corpus-NAME -> units-NAME, the same tokenizer)
  (-> interleave-tokenizer: the text tokenizer + K units -> interleave) -> bench
Every stage runs through its Python API in `python -m slmscale.study.stage NAME CONFIG.json`
(slmscale.study.stage), submitted to the same executor as the runs: a crash in one stage cannot
corrupt the study, and with submitit the stages run on compute nodes. Parameters are the stages'
own config models from the spec plus the paths the study fills in; no command line is assembled.
Interleaved shards are built once per text tokenizer: the extended tokenizer gives text tokens the
text tokenizer's ids, so one shard set serves every model size (checked per run when its starting
model is made, slmscale.study.warm_start).
Each stage is skipped when its output holds a meta.json and the study's record of the stage
(`DIR/data/.stages/<name>.json`: its parameters and input hashes) is unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmscale.artifacts import META, read_json, sha256_file, sha256_json, write_json
from slmscale.data.shards import interleaved_tokenizer, is_shards
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.study.runstate import inside
from slmscale.study.spec import StudySpec
from slmscale.study.stage import StageJob


@dataclass
class StudyData:
    manifest: Path | None = None
    shards: dict[str, Path] = field(default_factory=dict)  # arm name -> shards dir
    bench: dict[str, Path] = field(default_factory=dict)  # task -> benchmark root given to eval
    stages: dict[str, str] = field(default_factory=dict)  # stage -> "built" | "cached" | "given"
    # interleaved arm -> {"arm": text arm, "tokenizer": text tokenizer dir, "k": K} (starts from text)
    init: dict[str, dict[str, Any]] = field(default_factory=dict)
    corpora: dict[str, Path] = field(default_factory=dict)  # data.corpora name -> its unit shards dir


class Stages:
    """Runs a study's data stages through its executor, skipping those already built."""

    def __init__(self, data_dir: Path, executor: Any, record: dict[str, str], threads: int | None = None):
        self.dir, self.executor, self.record, self.threads = data_dir, executor, record, threads
        self.log = data_dir / "stages.log"

    def run(self, name: str, stage: str, out: Path, params: dict[str, Any], inputs: dict[str, str],
            required: bool = True, finished: Path | None = None, parts: int = 1) -> bool:
        """Build `out` with `stage` unless it is finished (`finished`, default `out`, holds its
        meta.json) and was made from the same parameters and inputs. Returns False when an optional
        stage (`required=False`) failed. `parts` > 1 (a stage with a sharded form): `parts` jobs
        `<stage>-part`, run side by side through the executor, then one `<stage>-merge` job."""
        stamps = self.dir / ".stages"
        stamp, config = stamps / f"{name}.json", stamps / f"{name}.config.json"
        params = {**params, "out": str(out)}
        fp = sha256_json({"stage": stage, "params": params, "inputs": inputs})  # parts do not change the bytes
        finished = finished or out
        done = (finished / META).is_file() or (finished / "manifest.jsonl").is_file()
        if done and stamp.is_file() and read_json(stamp).get("fingerprint") == fp:
            self.record[name] = "cached"
            return True
        note(f"[study] building {name} -> {out}" + (f" in {parts} parts" if parts > 1 else ""))
        t0 = time.time()
        if parts > 1:
            jobs = []
            for i in range(parts):
                part_cfg = stamps / f"{name}.part{i}.config.json"
                write_json(part_cfg, {**params, "num_shards": parts, "shard_index": i})
                jobs.append((f"{name}-part{i}", StageJob(f"{stage}-part", str(part_cfg), str(self.log), self.threads)))
            write_json(config, {**params, "num_shards": parts})
            ok = self._submit(name, jobs, required) and \
                self._submit(name, [(f"{name}-merge", StageJob(f"{stage}-merge", str(config), str(self.log)))],
                             required)
        else:
            write_json(config, params)
            ok = self._submit(name, [(name, StageJob(stage, str(config), str(self.log), self.threads))], required)
        if not ok:
            return False
        write_json(stamp, {"fingerprint": fp, "stage": stage, "inputs": inputs, "seconds": round(time.time() - t0, 2)})
        self.record[name] = "built"
        return True

    def _submit(self, name: str, jobs: list[tuple[str, StageJob]], required: bool) -> bool:
        states: dict[str, str] = {}
        self.executor.run_all(jobs, lambda jid, state: states.__setitem__(jid, state))
        for jid, _ in jobs:
            state = states.get(jid, "not run")
            if state == "finished":
                continue
            msg = f"data stage {jid} {state}; full log: {self.log}"
            if required:
                raise UserError(msg)
            note(f"[study] warning: {msg}")
            self.record[name] = f"failed: {state}"
            return False
        return True


def note(msg: str) -> None:
    """A plain status line on stderr (progress.info prints "[study] ..." literally)."""
    info(msg)


def _file_hash(path: Path | None) -> str:
    return sha256_file(path) if path is not None and path.is_file() else ""


def _meta_fp(path: Path) -> str:
    meta = path / META
    return read_json(meta).get("fingerprint", "") if meta.is_file() else ""


def find_shards(path: Path) -> Path:
    """A stage output that is a shards dir itself or holds one under shards/."""
    for cand in (path, path / "shards"):
        if is_shards(cand):
            return cand
    raise UserError(f"{path}: no token shards here (expected tokens.bin + meta.json)")


def prepare_data(spec: StudySpec, study_dir: Path, executor: Any, threads: int | None = None) -> StudyData:
    d, arms = spec.data, spec.enabled_arms()
    data_dir = study_dir / "data"
    out = StudyData()
    st = Stages(data_dir, executor, out.stages, threads)
    kinds = {a.kind for a in arms if a.shards is None}
    interleave = [a for a in arms if a.kind == "interleaved" and a.shards is None]
    need_units = ("units" in kinds and d.units.shards is None) or \
                 ("unigram" in kinds and d.unigram.path is None and d.units.shards is None) or \
                 (bool(interleave) and d.units.shards is None) or any(a.corpus for a in arms)
    need_manifest = need_units or ("text" in kinds and d.text.shards is None) or bool(interleave)

    if need_manifest:
        if d.corpus is None:
            raise UserError("data.corpus: needed to build shards; give a corpus path or synth settings")
        out.manifest = _corpus(st, d.corpus, "corpus", data_dir / "corpus", "data.corpus")
    manifest_fp = {"manifest": _file_hash(out.manifest)}

    units_shards = d.units.shards
    if need_units:
        tok = d.units.path
        if tok is None:
            if d.units.fit is None:
                raise UserError("data.units: give shards, a tokenizer path, or fit settings")
            tok = data_dir / "tokenizer"
            fit = d.units.fit.model_dump(mode="json")
            if d.units.phonenet:  # the phone classifier, trained on this corpus first
                net = data_dir / "phonenet"
                st.run("phonenet", "phonenet", net, {"manifest": str(out.manifest)}, manifest_fp)
                fit["encoder"]["checkpoint"] = str(net)  # in place of PHONENET_PLACEHOLDER
            if d.units.pretrain is not None:  # a self-supervised encoder, pretrained on this corpus first
                enc = data_dir / "hubert"
                st.run("pretrain", "pretrain", enc, {"config": d.units.pretrain.model_dump(mode="json"),
                                                     "manifest": str(out.manifest)}, manifest_fp)
                fit["encoder"]["checkpoint"] = str(enc)  # in place of HUBERT_PLACEHOLDER
            st.run("tokenizer", "units-fit", tok, {"config": fit, "manifest": str(out.manifest)}, manifest_fp)
        if units_shards is None:
            units_shards = _encode(spec, st, "units", data_dir / "units", tok, out.manifest)
        # Arms with their own corpus (data.corpora): built and encoded with the same tokenizer.
        for name in sorted({a.corpus for a in arms if a.corpus is not None}):
            manifest = _corpus(st, d.corpora[name], f"corpus-{name}", inside(data_dir / "corpora", name),
                               f"data.corpora.{name}")
            out.corpora[name] = _encode(spec, st, f"units-{name}", inside(data_dir / "corpora-units", name),
                                        tok, manifest)
    unigram = d.unigram.path
    if "unigram" in kinds and unigram is None:
        unigram = data_dir / "unigram"
        src = find_shards(units_shards)
        st.run("unigram", "unigram", unigram, {"config": d.unigram.fit.model_dump(mode="json"),
                                               "shards": str(src)}, {"units": _meta_fp(src)})
    text = d.text.shards
    if "text" in kinds and text is None:
        text = data_dir / "text"
        st.run("text", "text", text,
               {"config": d.text.model_dump(mode="json", exclude={"shards"}), "manifest": str(out.manifest)},
               manifest_fp, finished=text / "shards")
    by_kind = {"units": units_shards, "unigram": unigram, "text": text}
    for arm in arms:
        if arm.kind == "interleaved" and arm.shards is None:
            continue  # built below, from the text arm's tokenizer
        src = arm.shards or (out.corpora[arm.corpus] if arm.corpus else by_kind.get(arm.kind))
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
            out.shards[arm.name] = _interleave_stages(spec, st, data_dir, out, init, text_tok, tok_fp, units_dir)
        k = int(interleaved_tokenizer(out.shards[arm.name], f"arm {arm.name!r}: ")["k"])
        out.init[arm.name] = {"arm": init, "tokenizer": str(text_tok), "k": k}
    _bench(spec, st, data_dir, out)
    return out


def _corpus(st: Stages, corpus: Any, name: str, cdir: Path, where: str) -> Path:
    """A corpus's manifest: synthesised into `cdir` by stage `name` (cached), or the given one."""
    if corpus.synth is not None:
        text = Path(corpus.synth.text) if corpus.synth.text else None
        st.run(name, "corpus", cdir, {"config": corpus.synth.model_dump(mode="json")}, {"text": _file_hash(text)})
        return cdir / "manifest.jsonl"
    p = corpus.path
    manifest = p / "manifest.jsonl" if p.is_dir() else p
    if not manifest.is_file():
        raise UserError(f"{where}.path: {manifest} not found")
    st.record[name] = "given"
    return manifest


def _encode(spec: StudySpec, st: Stages, name: str, out: Path, tok: Path, manifest: Path) -> Path:
    """Unit shards of `manifest` with the speech tokenizer `tok`. execution.data_shards > 1: one
    encoding job per slice of the corpus (side by side, on compute nodes with submitit), merged into
    shards identical to one job's."""
    st.run(name, "units-encode", out,
           {"config": spec.data.units.encode.model_dump(mode="json"), "tokenizer": str(tok),
            "manifest": str(manifest)}, {"manifest": _file_hash(manifest), "tokenizer": _meta_fp(tok)},
           parts=spec.execution.data_shards)
    return out


def _bench(spec: StudySpec, st: Stages, data_dir: Path, out: StudyData) -> None:
    """Every arm's tasks read one benchmark root: given, or synthesised with the spec's BenchConfig
    for the benchmarks the tasks need (cross-modal and text versions read their benchmark's folder)."""
    from slmscale.eval.tasks import get_task

    bench = spec.data.bench
    tasks = sorted({t for a in spec.enabled_arms() for t in a.tasks})
    if not tasks or bench is None:
        return
    if bench.path is not None:
        out.bench, out.stages["bench"] = {t: bench.path for t in tasks}, "given"
        return
    root = data_dir / "bench"
    benchmarks = sorted({get_task(t).benchmark for t in tasks})
    config = bench.synth.model_copy(update={"tasks": benchmarks}).model_dump(mode="json")
    if st.run("bench", "bench", root, {"config": config}, _bench_layout(benchmarks), required=False):
        out.bench = {t: root for t in tasks}


def _bench_layout(benchmarks: list[str]) -> dict[str, str]:
    """The benchmark builder's layout versions (e.g. StoryCloze folders gained crossmodal/), so a
    study rebuilds a benchmark folder made by an older layout instead of calling it cached."""
    from slmscale.eval.synth_bench import LAYOUT

    return {f"layout-{b}": str(LAYOUT.get(b, "")) for b in benchmarks}


def _text_tokenizer(text_shards: Path, arm: str) -> tuple[Path, str]:
    """The text tokenizer dir a text arm's shards were made with, and its fingerprint."""
    tok = read_json(text_shards / META).get("tokenizer") or {}
    if tok.get("kind") != "text" or not tok.get("path"):
        raise UserError(f"arm {arm!r}: its shards {text_shards} do not name a text tokenizer "
                        "(meta.json tokenizer.path); interleaved arms extend it")
    return Path(tok["path"]), str(tok.get("fingerprint", ""))


def _interleave_stages(spec: StudySpec, st: Stages, data_dir: Path, out: StudyData, init: str, text_tok: Path,
                       tok_fp: str, units: Path | None) -> Path:
    """The text tokenizer extended with the study's K units, then the interleaved shards (cached)."""
    if units is None or out.manifest is None:
        raise UserError("interleaved shards need the corpus manifest and unit shards (data.corpus, data.units)")
    k = int(read_json(units / META).get("tokenizer", {}).get("k", 0))
    root = inside(data_dir / "interleaved", init)
    ext, shards = root / "tokenizer", root / "shards"
    st.run(f"interleave-tokenizer-{init}", "interleave-tokenizer", ext, {"tokenizer": str(text_tok), "k": k},
           {"tokenizer": tok_fp})
    st.run(f"interleaved-{init}", "interleave", shards,
           {"config": spec.data.interleave.model_dump(mode="json"), "manifest": str(out.manifest),
            "units": str(units), "tokenizer": str(ext)},
           {"manifest": _file_hash(out.manifest), "units": _meta_fp(units), "tokenizer": _meta_fp(ext)})
    return shards


def shards_fingerprints(data: StudyData) -> dict[str, str]:
    """Per arm: the fingerprint of its shards (enters the run ids, not the path)."""
    return {arm: _meta_fp(p) for arm, p in data.shards.items()}


def shards_sizes(data: StudyData) -> tuple[dict[str, int], dict[str, int]]:
    """Per arm: its shards' vocabulary size and training tokens (U, for epochs)."""
    from slmscale.data.shards import Shards

    vocab, unique = {}, {}
    for arm, path in data.shards.items():
        s = Shards(path)
        vocab[arm], unique[arm] = s.vocab_size, s.split_tokens("train")
    return vocab, unique
