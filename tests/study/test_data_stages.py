"""The data stages' wiring, with an executor that records each stage job and writes a stand-in output
(real shards for unit encodings) instead of running the stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slmscale.study.data_stages import prepare_data
from slmscale.study.spec import load_spec

from study_helpers import make_spec, write_spec


class RecordingExecutor:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict]] = []

    def run_all(self, jobs, on_done, deps=None):
        from slmscale.data.shards import ShardWriter

        for jid, job in jobs:
            params = json.loads(Path(job.config).read_text())
            self.jobs.append((job.name, params))
            out = Path(params["out"])
            if job.name == "units-encode":  # shards naming the tokenizer they were encoded with
                w = ShardWriter(out, vocab_size=12, special_tokens={"bos": 10, "eos": 11}, modality="units",
                                tokenizer={"kind": "units", "k": 10, "path": params["tokenizer"]})
                for i in range(3):
                    w.add(np.arange(i, i + 5) % 10, doc_id=f"{out.name}{i}", split="train" if i else "valid")
                w.close({"k": 10})
            else:
                out.mkdir(parents=True, exist_ok=True)
                (out / "meta.json").write_text(json.dumps({"stage": job.name, "fingerprint": jid}))
            on_done(jid, "finished")


def test_an_arm_corpus_is_built_and_encoded_with_the_study_tokenizer(tmp_path, shards):
    d = make_spec(tmp_path, shards)
    d["data"].update(corpus={"synth": {"hours": 1}}, units={"fit": {"encoder": "mfcc", "k": 10}},
                     corpora={"no_story": {"synth": {"hours": 1, "no_story": True}}})
    d["arms"] = [{"name": "speech", "kind": "units"}, {"name": "no_story", "kind": "units", "corpus": "no_story"}]
    spec = load_spec(write_spec(tmp_path, d))
    ex = RecordingExecutor()
    data = prepare_data(spec, tmp_path / "study", ex)

    root = (tmp_path / "study" / "data").resolve()
    names = [name for name, _ in ex.jobs]
    assert names == ["corpus", "units-fit", "units-encode", "corpus", "units-encode"]  # one tokenizer fit
    corpora = [p["config"] for n, p in ex.jobs if n == "corpus"]
    assert [c.get("no_story", False) for c in corpora] == [False, True]
    encodes = [p for n, p in ex.jobs if n == "units-encode"]
    assert {p["tokenizer"] for p in encodes} == {str(root / "tokenizer")}
    assert [p["manifest"] for p in encodes] == [str(root / "corpus" / "manifest.jsonl"),
                                                str(root / "corpora" / "no_story" / "manifest.jsonl")]
    assert data.shards == {"speech": root / "units", "no_story": root / "corpora-units" / "no_story"}
    assert set(data.stages) == {"corpus", "tokenizer", "units", "corpus-no_story", "units-no_story"}

    # A second call finds every stage cached; the no-story corpus has its own stage record.
    again = RecordingExecutor()
    assert prepare_data(spec, tmp_path / "study", again).shards == data.shards and again.jobs == []


@pytest.mark.slow
def test_no_story_corpus_is_synthesised_and_encoded_for_real(tmp_path, shards):
    """The real stages (espeak-ng, MFCC units): the no-story arm's shards hold the same tokenizer's
    units of a corpus with the same voices and splits as the story corpus, but other documents."""
    from slmscale.artifacts import read_json
    from slmscale.data.manifest import read_manifest
    from slmscale.study.executors import make_executor

    d = make_spec(tmp_path, shards)
    d["data"].update(corpus={"synth": {"stories": 6, "seed": 0}}, units={"fit": {"encoder": "mfcc", "k": 8}},
                     corpora={"no_story": {"synth": {"stories": 6, "seed": 0, "no_story": True}}})
    d["arms"] = [{"name": "speech", "kind": "units"}, {"name": "no_story", "kind": "units", "corpus": "no_story"}]
    spec = load_spec(write_spec(tmp_path, d))
    study = tmp_path / "study"
    data = prepare_data(spec, study, make_executor("local", study, 1, {}, 1))

    story, shuffled = (read_json(data.shards[a] / "meta.json") for a in ("speech", "no_story"))
    assert story["tokenizer"]["fingerprint"] == shuffled["tokenizer"]["fingerprint"]
    assert story["fingerprint"] != shuffled["fingerprint"] and shuffled["splits"]["train"]["tokens"] > 0
    m1 = list(read_manifest(study / "data" / "corpus" / "manifest.jsonl"))
    m2 = list(read_manifest(study / "data" / "corpora" / "no_story" / "manifest.jsonl"))
    assert [(e.id, e.voice, e.split) for e in m1] == [(e.id, e.voice, e.split) for e in m2]
    assert [e.text for e in m1] != [e.text for e in m2]
    assert sorted(w for e in m1 for w in e.text.split()) == sorted(w for e in m2 for w in e.text.split())
