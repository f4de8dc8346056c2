"""Fault-injection bench: try every failure a hostile user (or a bad day) can cause, and count how
each ended.

    PYTHONPATH=src python bench/faults.py [--quick] [--only CATEGORY] [--keep DIR]

Categories: audio (bad audio kinds and folder edge cases), config (bad train configs), cli (bad
stage arguments), study (bad and crafted study specs, via `slmscale study run`), shards (corrupt
token shards, per consumer), checkpoint (damaged checkpoints and final models), disk (read-only
and full output folders: a small tmpfs where `mount` is permitted, else a failing fsync), kill
(kill -9 at random points of `train` and `study run`, then rerun), concurrent (two writers on one
folder).

Each case ends as one of
  clear           the expected outcome: one `error: ...` line with the right exit code (or, for
                  batch stages, the bad item skipped and listed with its reason), no partial file
                  left, nothing written outside the output folder, resumed work identical
  traceback       a traceback, or an error that is not one clear line with the right exit code
  silently_wrong  exit 0 where an error was due, a bad item used as good, a partial file left,
                  or a write outside the output folder
  lost            finished work or data destroyed, or a resumed run that differs
Prints JSON: the counts, and every case that was not clear with what happened. Most cases run the
real CLI entry point in this process (the same `main` the console script and `python -m` use);
kills and concurrent writers use separate processes. Takes minutes on a quiet machine (--quick:
about a fifth of the cases, one per kind of fault).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test-data generators (support/)
FAKE = str(ROOT / "tests" / "study" / "fake_trainer.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
    [str(ROOT / "src"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}


@dataclass
class Result:
    category: str
    name: str
    outcome: str
    detail: str = ""


@dataclass
class Bench:
    ws: Path
    quick: bool
    results: list[Result] = field(default_factory=list)

    def add(self, category: str, name: str, outcome: str, detail: str = "") -> None:
        self.results.append(Result(category, name, outcome, detail[-400:]))
        mark = "ok " if outcome == "clear" else "!! "
        print(f"{mark}{category:10s} {name}: {outcome}{' - ' + detail[-160:] if outcome != 'clear' else ''}",
              file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running and judging commands


def cli(*argv: object) -> tuple[int, str, str]:
    """`slmscale ARGV` in this process through the real entry point: (exit code, stdout, stderr)."""
    from slmscale.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def spawn(*argv: object, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "slmscale.cli.main", *map(str, argv)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """{path: (size, mtime)} under `root`, leaving out `skip` (never resolving links: loops exist here)."""
    out = {}
    skip_s = None if skip is None else os.path.abspath(skip)
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) != skip_s]
        for name in dirs + files:
            p = Path(folder) / name
            if os.fspath(p) == skip_s:
                continue
            st = p.lstat()
            # folders count by existence only: making and removing the output changes its parent's mtime
            out[os.fsdecode(p.relative_to(root))] = (0, 0) if p.is_dir() and not p.is_symlink() else (
                st.st_size, st.st_mtime_ns)
    return out


def partials(root: Path) -> list[str]:
    found = []
    if not root.exists():
        return found
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            if ".tmp" in name:
                found.append(os.fsdecode(Path(folder, name)))
    return found


def judge_error(code: int, err: str, want_code: int = 2, phrase: str = "") -> tuple[str, str]:
    """Outcome of a command that should have failed with one clear line."""
    if "Traceback" in err:
        return "traceback", err.strip().splitlines()[-1] if err.strip() else ""
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ") or ln.startswith("Error: ")]
    if code == 0:
        return "silently_wrong", "exit 0: " + (err.strip().splitlines()[-1] if err.strip() else "")
    if code != want_code or len(lines) != 1:
        return "traceback", f"exit {code}, {len(lines)} error lines: {err.strip()[-200:]}"
    if phrase and phrase not in lines[0]:
        return "traceback", f"unexpected message: {lines[0]}"
    return "clear", lines[0]


def expect_error(b: Bench, category: str, name: str, argv: list, phrase: str = "", want_code: int = 2,
                 out: Path | None = None, fresh_out: bool = True) -> None:
    """Run a command that must fail with one line; also no partial file, nothing written outside
    `out` (or anywhere, when `out` is None), and no output marked finished when it was fresh."""
    before = snapshot(b.ws, out)
    code, _, err = cli(*argv)
    outcome, detail = judge_error(code, err, want_code, phrase)
    if outcome == "clear":
        after = snapshot(b.ws, out)
        moved = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        left = partials(b.ws)
        if moved:
            outcome, detail = "silently_wrong", f"wrote outside its output: {moved[:3]}"
        elif left:
            outcome, detail = "silently_wrong", f"partial files left: {left[:3]}"
        elif out is not None and fresh_out and (out / "meta.json").exists():
            outcome, detail = "silently_wrong", f"{out} marked finished"
    b.add(category, name, outcome, detail)


# ---------------------------------------------------------------- shared inputs


def tiny_train_cfg(path: Path, shards: Path, out: Path, steps: int = 6, **over) -> Path:
    from support.failures import train_yaml

    return train_yaml(path, shards, out, steps=steps, **over)


def same_weights(a: Path, b: Path) -> bool:
    from safetensors.torch import load_file

    x, y = load_file(a / "final" / "model.safetensors"), load_file(b / "final" / "model.safetensors")
    return x.keys() == y.keys() and all((x[k] == y[k]).all() for k in x)


class Inputs:
    """Built once per bench: unit shards, a trained tiny run, a babble corpus and its tokenizer."""

    def __init__(self, ws: Path):
        from support.babble import write_babble_corpus
        from support.failures import unit_shards

        self.ws = ws
        self.shards = unit_shards(ws / "inputs" / "units", docs=40)
        self.corpus = write_babble_corpus(ws / "inputs" / "corpus", 8, seconds=(1.0, 1.5), seed=1)
        code, _, err = cli("units", "fit", "--manifest", self.corpus, "--encoder", "mfcc", "--k", "8",
                           "--out", ws / "inputs" / "tok", "--workers", "1")
        assert code == 0, err
        self.tok = ws / "inputs" / "tok"
        self.good_audio = ws / "inputs" / "good_audio"
        self.good_audio.mkdir()
        for i, p in enumerate(sorted(self.corpus.parent.rglob("*.wav"))[:3]):
            shutil.copy(p, self.good_audio / f"g{i}.wav")
        self.run = ws / "inputs" / "run"
        cfg = tiny_train_cfg(ws / "inputs" / "run.yaml", self.shards, self.run)
        code, _, err = cli("train", cfg)
        assert code == 0, err

    def copy_shards(self, name: str) -> Path:
        return Path(shutil.copytree(self.shards, self.ws / "cases" / name))


# ---------------------------------------------------------------- audio


def audio_cases(b: Bench, inp: Inputs) -> None:
    from support.audio_zoo import make_audio_zoo

    zoo = b.ws / "cases" / "zoo"
    good, bad = make_audio_zoo(zoo)
    if b.quick:
        bad = dict(list(bad.items())[:3])
        for name in set(os.listdir(zoo)) - set(good) - set(bad):
            p = zoo / name
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    m = b.ws / "cases" / "zoo.jsonl"
    code, _, err = cli("data", "manifest", "folder", "--root", zoo, "--out", m, "--workers", "1")
    if code != 0 or "Traceback" in err:
        for name in bad:
            b.add("audio", f"manifest {name}", "traceback", err[-300:])
    else:
        meta = json.loads(m.with_name("zoo.meta.json").read_text())
        skipped = {s["file"]: s["reason"] for s in meta["skipped"]}
        kept = {Path(json.loads(line)["audio"]).name for line in m.read_text().splitlines()}
        for name, phrase in bad.items():
            if name in kept:
                b.add("audio", f"manifest {name}", "silently_wrong", "bad file kept in the manifest")
            elif phrase not in skipped.get(name, ""):
                b.add("audio", f"manifest {name}", "silently_wrong",
                      f"reason {skipped.get(name)!r}, expected {phrase!r}")
            else:
                b.add("audio", f"manifest {name}", "clear")
        lost = sorted(set(good) - kept)
        b.add("audio", "manifest keeps every good file", "lost" if lost else "clear", str(lost))
    # units encode on a hand-written manifest that lists every file, bad ones included
    rows = [{"id": n, "audio": f"zoo/{n}", "duration": 1.0, "sample_rate": 16000}
            for n in [*good, *bad]]
    hand = b.ws / "cases" / "all.jsonl"
    hand.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = b.ws / "cases" / "zoo_shards"
    code, _, err = cli("units", "encode", "--tokenizer", inp.tok, "--manifest", hand, "--out", out, "--workers", "1")
    if code != 0 or "Traceback" in err:
        for name in bad:
            b.add("audio", f"encode {name}", "traceback", err[-300:])
    else:
        meta = json.loads((out / "meta.json").read_text())
        skipped = {s["id"]: s["reason"] for s in meta["skipped"]}
        for name in bad:
            b.add("audio", f"encode {name}", "clear" if name in skipped else "silently_wrong",
                  "" if name in skipped else "bad file encoded as a document")
    edge_cases(b)


def edge_cases(b: Bench) -> None:
    from support.audio_zoo import tone
    import soundfile as sf

    root = b.ws / "cases" / "edges"
    (root / "spk").mkdir(parents=True)
    sf.write(root / "spk" / "ok.wav", tone(0.5, 16000), 16000)
    sf.write(os.fsencode(root / "spk") + b"/caf\xe9.wav", tone(0.5, 16000), 16000)
    os.symlink("l2.wav", root / "spk" / "l1.wav")
    os.symlink("l1.wav", root / "spk" / "l2.wav")
    os.symlink("..", root / "spk" / "up")
    m = b.ws / "cases" / "edges.jsonl"
    code, _, err = cli("data", "manifest", "folder", "--root", root, "--out", m, "--workers", "1")
    if code != 0:
        for n in ("symlink loop", "folder symlink loop", "non-UTF-8 name"):
            b.add("audio", n, judge_error(code, err)[0] if "Traceback" not in err else "traceback", err[-200:])
        return
    skipped = {s["file"]: s["reason"] for s in json.loads(m.with_name("edges.meta.json").read_text())["skipped"]}
    b.add("audio", "symlink loop", "clear" if skipped.get("spk/l1.wav") == "symbolic link loop" else
          "silently_wrong", str(skipped))
    b.add("audio", "folder symlink loop", "clear" if len(m.read_text().splitlines()) == 1 else "silently_wrong")
    b.add("audio", "non-UTF-8 name", "clear" if "UTF-8" in skipped.get("spk/caf\\xe9.wav", "") else
          "silently_wrong", str(skipped))
    rows = [{"id": "a", "audio": "edges/spk/ok.wav", "duration": 0.5, "sample_rate": 16000, "split": "bogus"}]
    bogus = b.ws / "cases" / "bogus_split.jsonl"
    bogus.write_text(json.dumps(rows[0]) + "\n")
    expect_error(b, "audio", "manifest entry with split 'bogus'",
                 ["units", "fit", "--manifest", bogus, "--encoder", "mfcc", "--k", "2",
                  "--out", b.ws / "cases" / "bogus_tok"], "unknown split", out=b.ws / "cases" / "bogus_tok")
    for name, text in [("broken JSON line", '{"id": "a", "audio": '), ("empty manifest", ""),
                       ("duplicate ids", (json.dumps({**rows[0], "split": "train"}) + "\n") * 2)]:
        p = b.ws / "cases" / f"{name.replace(' ', '_')}.jsonl"
        p.write_text(text)
        expect_error(b, "audio", f"manifest: {name}", ["units", "fit", "--manifest", p, "--encoder", "mfcc",
                                                        "--k", "2", "--out", b.ws / "cases" / ("t_" + p.stem)],
                     out=b.ws / "cases" / ("t_" + p.stem))


# ---------------------------------------------------------------- configs and arguments


BAD_TRAIN = [
    ("unknown key", {"train.lrr": 3}), ("unknown section", {"bogus.x": 1}), ("lr not a number", {"train.lr": "abc"}),
    ("negative lr", {"train.lr": -1}), ("zero seq_len", {"train.seq_len": 0}),
    ("both budgets", {"budget.tokens_per_param": 20}), ("no budget", {"budget.tokens": None}),
    ("partial shape", {"model.d_model": None}), ("d_model not divisible", {"model.d_model": 33}),
    ("missing shards", {"data.shards": "/nonexistent/shards"}), ("shards is a file", {"data.shards": "__FILE__"}),
    ("unknown preset", {"model.preset": "nonsense", "model.n_layers": None, "model.d_model": None,
                        "model.n_heads": None, "model.ffn": None}),
    ("micro batch not a divisor", {"train.micro_batch": 3}), ("cuda without a GPU", {"train.device": "cuda"}),
    ("bad precision", {"train.precision": "fp8"}), ("bad schedule", {"train.schedule": "zigzag"}),
    ("missing train split", {"data.train_split": "nope"}), ("missing valid split", {"data.valid_split": "nope"}),
    ("zero max_tokens", {"data.max_tokens": 0}), ("negative tokens_per_param", {"budget.tokens": None,
                                                                               "budget.tokens_per_param": -2}),
    ("init_from missing", {"model.init_from": "/nonexistent/model"}),
    ("init_from without config.json", {"model.init_from": "__DIR__"}),
    ("out is a file", {"out": "__FILE__"}), ("batch smaller than a sequence", {"train.batch_tokens": 16}),
    ("negative weight decay", {"train.weight_decay": -1}), ("keep zero checkpoints", {"checkpoint.keep": 0}),
]


def config_cases(b: Bench, inp: Inputs) -> None:
    cases = BAD_TRAIN[::5] if b.quick else BAD_TRAIN
    afile = b.ws / "cases" / "a_file"
    afile.write_text("x")
    adir = b.ws / "cases" / "a_dir"
    adir.mkdir(exist_ok=True)
    for i, (name, over) in enumerate(cases):
        over = {k: str(afile) if v == "__FILE__" else str(adir) if v == "__DIR__" else v for k, v in over.items()}
        out = Path(over.pop("out", b.ws / "cases" / f"cfg_run{i}"))
        cfg = tiny_train_cfg(b.ws / "cases" / f"cfg{i}.yaml", inp.shards, out, **over)
        expect_error(b, "config", name, ["train", cfg], out=None if out == afile else out)
    files = {"config file missing": None, "config not YAML": "a: [b\n", "config is a list": "- 1\n- 2\n",
             "config empty": ""}
    for name, text in list(files.items())[:1 if b.quick else None]:
        p = b.ws / "cases" / f"{name.replace(' ', '_')}.yaml"
        if text is not None:
            p.write_text(text)
        expect_error(b, "config", name, ["train", p])
    if not b.quick:
        cfg = tiny_train_cfg(b.ws / "cases" / "set.yaml", inp.shards, b.ws / "cases" / "set_run")
        expect_error(b, "config", "--set without =", ["train", cfg, "--set", "train.lr"])
        expect_error(b, "config", "--set unknown key", ["train", cfg, "--set", "train.nope=1"])


def other_cli_cases(b: Bench, inp: Inputs) -> None:
    c = b.ws / "cases"
    cases = [
        ("units fit k=0", ["units", "fit", "--manifest", inp.corpus, "--encoder", "mfcc", "--k", "0", "--out", c / "k0"]),
        ("units fit manifest missing", ["units", "fit", "--manifest", c / "none.jsonl", "--encoder", "mfcc",
                                        "--k", "4", "--out", c / "k1"]),
        ("units fit unknown encoder", ["units", "fit", "--manifest", inp.corpus, "--encoder", "nope", "--k", "4",
                                       "--out", c / "k2"]),
        ("units encode tokenizer unfinished", ["units", "encode", "--tokenizer", c, "--manifest", inp.corpus,
                                               "--out", c / "e1"]),
        ("units encode valid fraction 2", ["units", "encode", "--tokenizer", inp.tok, "--manifest", inp.corpus,
                                           "--out", c / "e2", "--valid-fraction", "2"]),
        ("units unigram vocab below k", ["units", "unigram", "--shards", inp.shards, "--vocab-size", "5",
                                         "--out", c / "u1"]),
        ("units unigram on a non-shards folder", ["units", "unigram", "--shards", c, "--vocab-size", "40",
                                                  "--out", c / "u2"]),
        ("data inspect a non-shards folder", ["data", "inspect", c]),
        ("manifest librispeech root missing", ["data", "manifest", "librispeech", "--root", c / "nope",
                                               "--split", "dev-clean", "--out", c / "ls.jsonl"]),
        ("manifest folder root missing", ["data", "manifest", "folder", "--root", c / "nope", "--out", c / "f.jsonl"]),
        ("manifest folder bad split", ["data", "manifest", "folder", "--root", inp.good_audio, "--split", "bogus",
                                       "--out", c / "f2.jsonl"]),
        ("synth corpus zero stories", ["synth", "corpus", "--out", c / "s1", "--stories", "0"]),
        ("synth corpus unknown voice", ["synth", "corpus", "--out", c / "s2", "--stories", "1", "--voices", "nobody"]),
        ("synth corpus text missing", ["synth", "corpus", "--out", c / "s3", "--text", c / "none.txt"]),
        ("synth corpus out is a file", ["synth", "corpus", "--out", c / "a_file", "--stories", "1"]),
    ]
    for name, argv in cases[::4] if b.quick else cases:
        out = next((Path(a) for a, prev in zip(argv[1:], argv) if prev == "--out"), None)
        expect_error(b, "cli", name, argv, out=out if out is not None and out.name != "a_file" else None)


# ---------------------------------------------------------------- study specs


def study_spec(shards: Path, **over) -> dict:
    from slmscale.config import set_dotted

    spec = {"name": "faults", "seed": 0, "arms": [{"name": "speech", "kind": "units", "shards": str(shards)}],
            "grid": {"sizes": [{"preset": "fake-20000", "params": 20000}], "tokens_per_param": [2]},
            "fits": {"loss": False},
            "execution": {"executor": "local", "jobs": 1, "trainer": [sys.executable, FAKE, "train"],
                          "evaluator": [sys.executable, FAKE, "eval"]}}
    for key, val in over.items():
        if val == "__DELETE__":
            continue
        set_dotted(spec, key, val)
    return spec


BAD_SPECS = [
    ("size name escapes the folder", {"grid.sizes": [{"preset": "../../../pwn/x", "params": 20000}]}),
    ("size name with a slash", {"grid.sizes": [{"preset": "mine/v2", "params": 20000}]}),
    ("unknown preset", {"grid.sizes": [{"preset": "nonsense", "params": 20000}]}),
    ("typo in train overrides", {"train": {"train": {"lrr": 3}}}),
    ("arm name escapes the folder", {"arms": [{"name": "../evil", "kind": "units", "shards": "__SHARDS__"}]}),
    ("study name with a slash", {"name": "../x"}),
    ("no arms", {"arms": []}),
    ("duplicate arm names", {"arms": [{"name": "a", "kind": "units", "shards": "__SHARDS__"},
                                      {"name": "a", "kind": "units", "shards": "__SHARDS__"}]}),
    ("unknown arm kind", {"arms": [{"name": "a", "kind": "video", "shards": "__SHARDS__"}]}),
    ("arm shards missing", {"arms": [{"name": "a", "kind": "units", "shards": "/nonexistent"}]}),
    ("negative tokens per param", {"grid.tokens_per_param": [-1]}),
    ("unknown top-level key", {"bogus": 1}),
    ("zero jobs", {"execution.jobs": 0}),
    ("seed not a number", {"grid.seeds": ["a"]}),
]


def study_cases(b: Bench, inp: Inputs) -> None:
    import yaml

    cases = BAD_SPECS[::4] if b.quick else BAD_SPECS
    for i, (name, over) in enumerate(cases):
        over = json.loads(json.dumps(over).replace('"__SHARDS__"', json.dumps(str(inp.shards))))
        spec = b.ws / "cases" / f"spec{i}.yaml"
        spec.write_text(yaml.safe_dump(study_spec(inp.shards, **over)))
        out = b.ws / "cases" / f"study{i}"
        expect_error(b, "study", name, ["study", "run", spec, "--out", out, "--no-report"], out=out)
    spec = b.ws / "cases" / "spec_ok.yaml"
    spec.write_text(yaml.safe_dump(study_spec(inp.shards)))
    extra = [("--set unknown key", ["--set", "train.train.lrr=3"]), ("--set without =", ["--set", "seed"])]
    for name, args in extra[:1 if b.quick else None]:
        out = b.ws / "cases" / f"study_{name[6:9]}"
        expect_error(b, "study", name, ["study", "run", spec, "--out", out, "--no-report", *args], out=out)
    if not b.quick:
        for name, text in [("spec missing", None), ("spec not YAML", "a: [\n"), ("spec is a list", "- 1\n")]:
            p = b.ws / "cases" / f"{name.replace(' ', '_')}.yaml"
            if text is not None:
                p.write_text(text)
            expect_error(b, "study", name, ["study", "run", p, "--out", b.ws / "cases" / p.stem], out=b.ws / "cases" / p.stem)


# ---------------------------------------------------------------- corrupt shards


def _poke(path: Path, value: int, at: int) -> None:
    import numpy as np

    tok = np.memmap(path / "tokens.bin", dtype=np.uint16, mode="r+")
    tok[at] = value
    tok.flush()


def _edit_docs(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = (path / "docs.jsonl").read_text().splitlines()
    (path / "docs.jsonl").write_text("".join(line + "\n" for line in edit(lines)))


def _offset_past_end(lines: list[str]) -> list[str]:
    d = json.loads(lines[-1])
    d["offset"] += 10_000
    return lines[:-1] + [json.dumps(d)]


DAMAGE: list[tuple[str, Callable[[Path], None]]] = [
    ("ids overwritten with 0xFFFF", lambda p: _poke(p, 0xFFFF, 100)),
    ("offsets past the end", lambda p: _edit_docs(p, _offset_past_end)),
    ("a docs.jsonl line deleted", lambda p: _edit_docs(p, lambda ls: ls[:5] + ls[6:])),
    ("tokens.bin edited at the same size", lambda p: _poke(p, 3, 100)),
    ("a broken JSON line", lambda p: _edit_docs(p, lambda ls: ls[:5] + ['{"id": '] + ls[6:])),
    ("tokens.bin truncated", lambda p: (p / "tokens.bin").write_bytes((p / "tokens.bin").read_bytes()[:-7])),
    ("meta.json garbage", lambda p: (p / "meta.json").write_text("{nope")),
    ("meta.json missing", lambda p: (p / "meta.json").unlink()),
    ("durations.bin truncated", lambda p: (p / "durations.bin").write_bytes(b"\0" * 10)),
]


def shard_cases(b: Bench, inp: Inputs) -> None:
    damages = DAMAGE[::3] if b.quick else DAMAGE
    for i, (name, damage) in enumerate(damages):
        consumers = ["train", "unigram", "inspect --verify"] if i < 6 else ["train"]
        for consumer in consumers[:1] if b.quick else consumers:
            sh = inp.copy_shards(f"sh_{i}_{consumer.split()[0]}")
            damage(sh)
            out = b.ws / "cases" / f"sh_out_{i}_{consumer.split()[0]}"
            if consumer == "train":
                argv = ["train", tiny_train_cfg(b.ws / "cases" / f"sh{i}.yaml", sh, out)]
            elif consumer == "unigram":
                argv = ["units", "unigram", "--shards", sh, "--vocab-size", "30", "--out", out]
            else:
                argv, out = ["data", "inspect", sh, "--verify", "--json"], None
            expect_error(b, "shards", f"{name} -> {consumer}", argv, out=out)


# ---------------------------------------------------------------- checkpoints and final models


def _unfinish(run: Path) -> None:
    (run / "meta.json").unlink()
    shutil.rmtree(run / "final")
    s = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**s, "status": "running"}))


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


CKPT_DAMAGE = [
    ("model.safetensors truncated", lambda c: _truncate(c / "model.safetensors")),
    ("optimizer.safetensors truncated", lambda c: _truncate(c / "optimizer.safetensors")),
    ("rng.safetensors garbage", lambda c: (c / "rng.safetensors").write_bytes(b"\x08" * 40)),
    ("state.json garbage", lambda c: (c / "state.json").write_text("{")),
    ("state.json without its step", lambda c: (c / "state.json").write_text("{}")),
]


def checkpoint_cases(b: Bench, inp: Inputs) -> None:
    for i, (name, damage) in enumerate(CKPT_DAMAGE[:2] if b.quick else CKPT_DAMAGE):
        run = Path(shutil.copytree(inp.run, b.ws / "cases" / f"ck{i}"))
        _unfinish(run)
        newest = sorted((run / "checkpoints").glob("step-*"))[-1]
        damage(newest)
        code, _, err = cli("train", b.ws / "inputs" / "run.yaml", "--out", run)
        if "Traceback" in err or code != 0:
            b.add("checkpoint", f"resume past {name}", judge_error(code, err)[0], err[-300:])
        elif "skipping damaged checkpoint" not in err:
            b.add("checkpoint", f"resume past {name}", "silently_wrong", "no word about the damaged checkpoint")
        else:
            b.add("checkpoint", f"resume past {name}", "clear" if same_weights(run, inp.run) else "lost",
                  "" if same_weights(run, inp.run) else "resumed weights differ from the uninterrupted run")
    run = Path(shutil.copytree(inp.run, b.ws / "cases" / "ck_all"))
    _unfinish(run)
    for c in (run / "checkpoints").glob("step-*"):
        (c / "state.json").write_text("{")
    expect_error(b, "checkpoint", "every checkpoint damaged", ["train", b.ws / "inputs" / "run.yaml", "--out", run],
                 "every checkpoint is damaged", out=run, fresh_out=False)
    finals = [
        ("final model truncated", lambda f: _truncate(f / "model.safetensors")),
        ("final pytorch_model.bin (pickle)", lambda f: _pickle(f, "pytorch_model.bin", remove=True)),
        ("final pickle named .safetensors", lambda f: _pickle(f, "model.safetensors")),
        ("final config.json garbage", lambda f: (f / "config.json").write_text("{")),
        ("final without weights", lambda f: (f / "model.safetensors").unlink()),
    ]
    for i, (name, damage) in enumerate(finals[:2] if b.quick else finals):
        final = Path(shutil.copytree(inp.run / "final", b.ws / "cases" / f"final{i}"))
        damage(final)
        out = b.ws / "cases" / f"init_run{i}"
        cfg = tiny_train_cfg(b.ws / "cases" / f"init{i}.yaml", inp.shards, out,
                             **{"model.init_from": str(final), "model.n_layers": None, "model.d_model": None,
                                "model.n_heads": None, "model.ffn": None})
        expect_error(b, "checkpoint", f"init_from: {name}", ["train", cfg], out=out)


def _pickle(final: Path, name: str, remove: bool = False) -> None:
    import torch
    from safetensors.torch import load_file

    sd = {k: v.clone() for k, v in load_file(final / "model.safetensors").items()}
    if remove:
        (final / "model.safetensors").unlink()
    torch.save(sd, final / "pickle.tmp")  # not over the file just read: it may still be mapped
    os.replace(final / "pickle.tmp", final / name)


# ---------------------------------------------------------------- read-only and full disks


@contextlib.contextmanager
def small_disk(where: Path, mode: str):
    """A 2 MiB tmpfs at `where`: mode "ro" (read-only) or "full" (filled to the last byte).
    Yields "tmpfs", or "simulated" (fsync fails with EROFS/ENOSPC) when mounting is not permitted."""
    import errno

    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    try:
        if mounted:
            if mode == "full":
                with open(where / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
                    while True:
                        fh.write(b"\0" * 4096)
            else:
                subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
            yield "tmpfs"
        else:
            code = errno.ENOSPC if mode == "full" else errno.EROFS
            real = os.fsync

            def fsync(fd: int) -> None:
                raise OSError(code, os.strerror(code))

            os.fsync = fsync
            try:
                yield "simulated"
            finally:
                os.fsync = real
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def disk_cases(b: Bench, inp: Inputs) -> None:
    import yaml

    spec = b.ws / "cases" / "disk_spec.yaml"
    spec.write_text(yaml.safe_dump(study_spec(inp.shards)))
    stages = [
        ("synth corpus", lambda d: ["synth", "corpus", "--out", d / "c", "--stories", "2", "--workers", "1"]),
        ("data manifest", lambda d: ["data", "manifest", "folder", "--root", inp.good_audio, "--out", d / "m.jsonl",
                                     "--workers", "1"]),
        ("units fit", lambda d: ["units", "fit", "--manifest", inp.corpus, "--encoder", "mfcc", "--k", "8",
                                 "--out", d / "tok", "--workers", "1"]),
        ("units encode", lambda d: ["units", "encode", "--tokenizer", inp.tok, "--manifest", inp.corpus,
                                    "--out", d / "sh", "--workers", "1"]),
        ("units unigram", lambda d: ["units", "unigram", "--shards", inp.shards, "--vocab-size", "30",
                                     "--out", d / "uni"]),
        ("train", lambda d: ["train", b.ws / "inputs" / "run.yaml", "--out", d / "run"]),
        ("study run", lambda d: ["study", "run", spec, "--out", d / "study", "--no-report"]),
    ]
    for mode, phrase in (("ro", "read-only"), ("full", "no space left")):
        for i, (name, argv) in enumerate(stages[::3] if b.quick else stages):
            where = b.ws / "cases" / f"disk_{mode}_{i}"
            with small_disk(where, mode) as kind:
                before = snapshot(b.ws, where)
                code, _, err = cli(*argv(where))
                outcome, detail = judge_error(code, err, 2, phrase)
                left = [p for p in partials(where)]
                done = [p for p in where.rglob("meta.json")] if where.exists() else []
                if outcome == "clear" and left:
                    outcome, detail = "silently_wrong", f"partial files left: {left[:3]}"
                elif outcome == "clear" and done:
                    outcome, detail = "silently_wrong", f"marked finished: {done[:2]}"
                elif outcome == "clear" and snapshot(b.ws, where) != before:
                    outcome, detail = "silently_wrong", "wrote outside its output"
            b.add("disk", f"{name} on a {'read-only' if mode == 'ro' else 'full'} disk ({kind})", outcome, detail)


# ---------------------------------------------------------------- kill -9


def _wait_for(cond: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def _last_step(run: Path) -> int:
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    return max((json.loads(ln)["step"] for ln in lines if ln.endswith("}")), default=0)


def kill_cases(b: Bench, inp: Inputs, rng: random.Random) -> None:
    steps = 40
    ref = b.ws / "cases" / "kill_ref"
    cfg = tiny_train_cfg(b.ws / "cases" / "kill.yaml", inp.shards, ref, steps=steps,
                         **{"checkpoint.interval_steps": 3})
    cli("train", cfg)
    for i in range(1 if b.quick else 3):
        run = b.ws / "cases" / f"kill_run{i}"
        at = rng.randint(2, steps - 5)
        proc = spawn("train", cfg, "--out", run)
        hit = _wait_for(lambda: _last_step(run) >= at, proc, 600)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        code, _, err = cli("train", cfg, "--out", run)
        if code != 0:
            b.add("kill", f"train killed at step {at}", judge_error(code, err)[0], err[-300:])
        else:
            ok = same_weights(run, ref)
            b.add("kill", f"train killed at step {at}{'' if hit else ' (finished first)'}", "clear" if ok else "lost",
                  "" if ok else "resumed weights differ from the uninterrupted run")
    import yaml

    for i in range(1 if b.quick else 2):
        spec = b.ws / "cases" / f"kill_spec{i}.yaml"
        sizes = [{"preset": f"fake-{n}", "params": n} for n in (20000, 40000)]
        spec.write_text(yaml.safe_dump(study_spec(inp.shards, **{"grid.sizes": sizes, "grid.tokens_per_param": [2, 4],
                                                                  "train": {"fake": {"step_s": 0.02}}})))
        out = b.ws / "cases" / f"kill_study{i}"
        proc = spawn("study", "run", spec, "--out", out, "--no-report")
        time.sleep(rng.uniform(3, 12))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        code, _, err = cli("study", "run", spec, "--out", out, "--no-report")
        if code != 0:
            b.add("kill", f"study killed ({i})", judge_error(code, err)[0], err[-300:])
            continue
        import csv

        rows = list(csv.DictReader(open(out / "results.csv")))
        ids = [r.get("run_id") for r in rows]
        ok = len(ids) == 4 and len(set(ids)) == 4
        b.add("kill", f"study killed ({i})", "clear" if ok else "lost", "" if ok else f"results rows: {ids}")


# ---------------------------------------------------------------- concurrent writers


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding `folder`'s lock, as a running writer would."""
    code = ("import sys, time; from slmscale.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'x'):\n    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def concurrent_cases(b: Bench, inp: Inputs) -> None:
    steps = 40
    cfg = b.ws / "cases" / "kill.yaml"  # made by kill_cases: reference in kill_ref
    if not cfg.exists():
        tiny_train_cfg(cfg, inp.shards, b.ws / "cases" / "kill_ref", steps=steps, **{"checkpoint.interval_steps": 3})
        cli("train", cfg)
    run = b.ws / "cases" / "conc_train"
    first = spawn("train", cfg, "--out", run)
    _wait_for(lambda: (run / "summary.json").exists(), first, 600)
    code, _, err = cli("train", cfg, "--out", run)
    outcome, detail = judge_error(code, err, 2, "already writing here")
    first.wait()
    if first.returncode != 0 or not same_weights(run, b.ws / "cases" / "kill_ref"):
        outcome, detail = "lost", f"the first train was disturbed (exit {first.returncode})"
    b.add("concurrent", "two trains on one --out", outcome, detail)
    held = [("units unigram", lambda d: ["units", "unigram", "--shards", inp.shards, "--vocab-size", "30",
                                         "--out", d]),
            ("units encode", lambda d: ["units", "encode", "--tokenizer", inp.tok, "--manifest", inp.corpus,
                                        "--out", d, "--workers", "1"]),
            ("synth corpus", lambda d: ["synth", "corpus", "--out", d, "--stories", "1", "--workers", "1"])]
    for name, argv in held[:1] if b.quick else held:
        d = b.ws / "cases" / f"conc_{name.split()[-1]}"
        holder = _hold(d)
        try:
            code, _, err = cli(*argv(d))
            outcome, detail = judge_error(code, err, 2, "already writing here")
            if outcome == "clear" and (d / "meta.json").exists():
                outcome, detail = "silently_wrong", "wrote meta.json beside another writer"
        finally:
            holder.kill()
            holder.wait()
        b.add("concurrent", f"{name} while another writer holds the folder", outcome, detail)
    if b.quick:
        return
    m = b.ws / "cases" / "conc_m.jsonl"
    procs = [spawn("data", "manifest", "folder", "--root", inp.good_audio, "--out", m, "--workers", "1", "--force")
             for _ in range(2)]
    outs = [p.communicate() for p in procs]
    ok = all(p.returncode == 0 for p in procs) and len(m.read_text().splitlines()) == 3
    b.add("concurrent", "two manifest builds on one file", "clear" if ok else "silently_wrong",
          "" if ok else str([o[1][-200:] for o in outs]))
    import csv

    import yaml

    spec = b.ws / "cases" / "conc_spec.yaml"
    sizes = [{"preset": f"fake-{n}", "params": n} for n in (20000, 40000)]
    spec.write_text(yaml.safe_dump(study_spec(inp.shards, **{"grid.sizes": sizes, "grid.tokens_per_param": [2, 4],
                                                              "train": {"fake": {"step_s": 0.01}}})))
    out = b.ws / "cases" / "conc_study"
    procs = [spawn("study", "run", spec, "--out", out, "--no-report") for _ in range(2)]
    outs = [p.communicate() for p in procs]
    tb = any("Traceback" in o[1] for o in outs)
    cli("study", "run", spec, "--out", out, "--no-report")  # finish whatever a busy lock left
    rows = list(csv.DictReader(open(out / "results.csv"))) if (out / "results.csv").exists() else []
    ids = [r.get("run_id") for r in rows]
    attempts = [len([ln for ln in (p / "attempts.jsonl").read_text().splitlines() if '"finish' in ln])
                for p in (out / "runs").glob("*/run") if (p / "attempts.jsonl").exists()]
    ok = len(ids) == 4 and len(set(ids)) == 4 and all(a == 1 for a in attempts)
    b.add("concurrent", "two study runs on one folder", "traceback" if tb else ("clear" if ok else "silently_wrong"),
          "" if ok else f"rows {ids}, finishes per run {attempts}")


# ---------------------------------------------------------------- main


CATEGORIES = ["audio", "config", "cli", "study", "shards", "checkpoint", "disk", "kill", "concurrent"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about a fifth of the cases, one per kind of fault")
    ap.add_argument("--only", action="append", choices=CATEGORIES, help="run only these categories")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the random kill points")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ws = args.keep or Path(tempfile.mkdtemp(prefix="slmscale-faults-"))
    (ws / "cases").mkdir(parents=True, exist_ok=True)
    b = Bench(ws, args.quick)
    t0 = time.time()
    inp = Inputs(ws)
    rng = random.Random(args.seed)
    runners = {"audio": audio_cases, "config": config_cases, "cli": other_cli_cases, "study": study_cases,
               "shards": shard_cases, "checkpoint": checkpoint_cases, "disk": disk_cases,
               "kill": lambda b, i: kill_cases(b, i, rng), "concurrent": concurrent_cases}
    for cat in args.only or CATEGORIES:
        try:
            runners[cat](b, inp)
        except Exception as err:  # the bench itself must finish and report
            b.add(cat, "bench error", "traceback", f"{type(err).__name__}: {err}")
    counts = {k: sum(r.outcome == k for r in b.results) for k in ("clear", "traceback", "silently_wrong", "lost")}
    by_cat = {c: {k: sum(r.outcome == k and r.category == c for r in b.results) for k in counts}
              for c in dict.fromkeys(r.category for r in b.results)}
    print(json.dumps({"cases": len(b.results), "counts": counts, "by_category": by_cat, "quick": args.quick,
                      "wall_s": round(time.time() - t0, 1),
                      "not_clear": [r.__dict__ for r in b.results if r.outcome != "clear"]}, indent=2))
    if args.keep is None:
        shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()
