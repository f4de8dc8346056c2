"""Shared machinery of bench/faults.py: run the CLI in-process, judge an outcome, build the inputs."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


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
