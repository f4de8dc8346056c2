"""Study test fixtures: tiny shards, a benchmark folder, and specs that use the fake trainer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FAKE = str(Path(__file__).with_name("fake_trainer.py"))
SIZES = [20_000, 80_000, 300_000]


def fake_commands() -> dict:
    return {"trainer": [sys.executable, FAKE, "train"], "evaluator": [sys.executable, FAKE, "eval"],
            "extender": [sys.executable, FAKE, "extend"]}


def write_text_and_interleaved_shards(tmp_path: Path, k: int = 10) -> tuple[Path, Path]:
    """Tiny text shards (naming a text tokenizer) and interleaved shards (naming an extended one)."""
    from slmscale.data.shards import ShardWriter

    text = ShardWriter(tmp_path / "text", vocab_size=20, special_tokens={"eos": 2}, modality="text",
                       tokenizer={"kind": "text", "path": str(tmp_path / "text-tok"), "fingerprint": "t0"})
    il = ShardWriter(tmp_path / "il", vocab_size=20 + k + 2, special_tokens={"eos": 2, "speech": 20 + k,
                                                                            "text": 21 + k},
                     modality="interleaved", tokenizer={"kind": "interleaved", "path": str(tmp_path / "il-tok"),
                                                        "k": k, "unit_offset": 20, "units_path": "/u"})
    for i in range(4):
        split = "train" if i else "valid"
        text.add(np.arange(3, 9) + i, doc_id=f"d{i}", split=split)
        il.add(np.array([21 + k, 5, 6, 20 + k, 20 + i, 21]), doc_id=f"d{i}/interleaved", split=split,
               speech_tokens=2)
    text.close({})
    il.close({})
    return tmp_path / "text", tmp_path / "il"


def interleaved_spec(tmp_path: Path, shards: Path, step_s: float = 0.0, **extra) -> dict:
    """Speech + text + interleaved (prebuilt shards, init from the text arm) with the fake trainer."""
    text, il = write_text_and_interleaved_shards(tmp_path)
    sizes = [{"preset": f"fake-{n}", "params": n} for n in SIZES]
    arms = [{"name": "speech", "kind": "units", "shards": str(shards), "tasks": ["sblimp"]},
            {"name": "text", "kind": "text", "shards": str(text), "tasks": ["sblimp"], "match_flops": False},
            # Fake presets have no model shape to count full FLOPs with: these arms compare at 6ND.
            {"name": "il", "kind": "interleaved", "shards": str(il), "init_arm": "text", "match_flops": False,
             "tasks": ["sblimp", "sstorycloze_t2s"],
             "grid": {"sizes": sizes[1:], "tokens_per_param": [8]}}]
    grid = {"sizes": sizes, "tokens_per_param": [2, 8]}
    return make_spec(tmp_path, shards, arms=arms, grid=grid, train={"fake": {"step_s": step_s}}, **extra)


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    from slmscale.data.shards import ShardWriter

    w = ShardWriter(tmp_path / "shards", vocab_size=12, special_tokens={"bos": 10, "eos": 11},
                    modality="units")
    for i in range(4):
        w.add(np.arange(i, i + 5) % 10, doc_id=f"d{i}", split="train" if i else "valid")
    w.close({"k": 10})
    return tmp_path / "shards"


def make_spec(tmp_path: Path, shards: Path, arms=None, grid=None, execution=None, **extra) -> dict:
    (tmp_path / "bench").mkdir(exist_ok=True)
    spec = {
        "name": "test",
        "data": {"bench": {"path": str(tmp_path / "bench")}},
        "arms": arms or [{"name": "speech", "kind": "units", "shards": str(shards), "tasks": ["sblimp"]}],
        "grid": grid or {"sizes": [{"preset": f"fake-{n}", "params": n} for n in SIZES],
                         "tokens_per_param": [2, 8, 32]},
        "fits": {"bootstrap": 0},
        "execution": {**fake_commands(), "jobs": 2, **(execution or {})},
        **extra,
    }
    return spec


def write_spec(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def write_aligned_babble(root: Path, n: int = 16, seed: int = 3) -> Path:
    """A babble corpus whose entries carry transcripts and word timings (0.25 s per word) and a
    valid split, as interleaving needs; returns the manifest path."""
    from slmscale.data.manifest import read_manifest, write_manifest
    from support.babble import write_babble_corpus

    words = "the little cat sat on a warm mat and a brown dog ran to the park".split()
    manifest = write_babble_corpus(root, n, seconds=(1.5, 2.5), seed=seed)
    entries = []
    for i, e in enumerate(read_manifest(manifest)):
        ws = [words[(i + j) % len(words)] for j in range(int(e.duration / 0.25))]
        timed = [(w, round(0.25 * j, 3), round(0.25 * j + 0.22, 3)) for j, w in enumerate(ws)]
        entries.append(e.model_copy(update={"text": " ".join(ws), "words": timed,
                                            "split": "valid" if i % 4 == 0 else "train"}))
    write_manifest(manifest, entries)
    return manifest
