"""bench/faults.py cases: bad audio, bad train configs and stage arguments, bad study specs,
corrupt shards."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from fault_kit import Bench, Inputs, cli, expect_error, judge_error, study_spec, tiny_train_cfg


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


BUILTIN_TRAINER = {"execution": {"executor": "local", "jobs": 1}, "grid.sizes": ["cpu-50k"]}
BAD_SPECS = [
    ("size name escapes the folder", {"grid.sizes": [{"preset": "../../../pwn/x", "params": 20000}]}),
    ("size name with a slash", {"grid.sizes": [{"preset": "mine/v2", "params": 20000}]}),
    # With the built-in trainer (a custom trainer command owns its own config keys and presets):
    ("unknown preset", {**BUILTIN_TRAINER, "grid.sizes": [{"preset": "nonsense", "params": 20000}]}),
    ("typo in train overrides", {"train": {"train": {"lrr": 3}}, **BUILTIN_TRAINER}),
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
    spec.write_text(yaml.safe_dump(study_spec(inp.shards, **BUILTIN_TRAINER)))
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
