"""Interleaved training runs: slmscale.json for evaluation, speech-token share, the init model's
compute. A real tiny text run is extended and trained further on real interleaved shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slmscale.data.interleave import UnitTable, build_interleaved_shards
from slmscale.data.loader import PackedStream, TrainBatches
from slmscale.data.manifest import ManifestEntry, write_manifest
from slmscale.data.shards import Shards
from slmscale.train import run_training
from slmscale.train.lineage import init_compute, speech_tokens_trained

K, RATE = 12, 25.0
WORDS = "the cat sat on a mat and the dog ran to the park after it".split()
UNITS_INFO = {"kind": "units", "path": "/speech/tok", "k": K, "dedup": True, "frame_rate": RATE,
              "fingerprint": "u0"}


def _corpus(tmp: Path, n: int = 40) -> tuple[Path, UnitTable]:
    """Utterances of 6-14 words at 0.3 s each, with units that run over the words' frames."""
    rng = np.random.default_rng(0)
    entries, units = [], {}
    for i in range(n):
        words = [WORDS[j % len(WORDS)] for j in range(i, i + int(rng.integers(6, 15)))]
        timed = [(w, round(0.3 * j, 3), round(0.3 * j + 0.28, 3)) for j, w in enumerate(words)]
        entries.append(ManifestEntry(id=f"u{i:03d}", audio=f"u{i}.wav", duration=0.3 * len(words),
                                     sample_rate=16000, text=" ".join(words), voice="v",
                                     split="valid" if i % 8 == 0 else "train", words=timed))
        frames = int(0.3 * len(words) * RATE)
        d = rng.integers(1, 4, frames)
        d = d[np.cumsum(d) <= frames]
        units[f"u{i:03d}"] = (rng.integers(0, K, len(d)), d)
    write_manifest(tmp / "manifest.jsonl", entries)
    return tmp / "manifest.jsonl", UnitTable(units, K, RATE, UNITS_INFO)


@pytest.fixture(scope="module")
def lineage(tmp_path_factory, make_config):
    """A text run on the transcripts, its model extended with K units, and interleaved shards."""
    from slmscale.config import validate
    from slmscale.model.extend import extend_vocabulary
    from slmscale.text.bpe import encode_texts_to_shards, train_bpe
    from slmscale.train.config import TrainConfig

    tmp = tmp_path_factory.mktemp("lineage")
    manifest, table = _corpus(tmp)
    from slmscale.data.manifest import read_manifest

    entries = read_manifest(manifest)
    tok = train_bpe([e.text for e in entries], tmp / "tok", vocab_size=300)
    encode_texts_to_shards([e.text for e in entries], tok, tmp / "text", ids=[e.id for e in entries],
                           splits=[e.split for e in entries])
    text_run = tmp / "text-run"
    cfg = make_config(tmp / "text", text_run, **{"budget.tokens": 128 * 6})
    text_summary = run_training(validate(TrainConfig, cfg))
    extend_vocabulary(text_run / "final", tmp / "ext", K, tokenizer_dir=tmp / "tok")
    build_interleaved_shards(manifest, table, tmp / "ext", tmp / "il")
    return tmp, text_run, text_summary


def test_interleaved_run_records_what_evaluation_and_studies_need(lineage, make_config, monkeypatch):
    from slmscale.config import validate
    from slmscale.text.interleaved_vocab import read_speech_vocab
    from slmscale.train.config import TrainConfig

    tmp, text_run, text_summary = lineage
    out = tmp / "il-run"
    cfg = make_config(tmp / "il", out, **{"budget.tokens": 128 * 6, "model.init_from": str(tmp / "ext")})
    summary = run_training(validate(TrainConfig, cfg))
    sh = Shards(tmp / "il")
    vocab = read_speech_vocab(tmp / "ext")

    # FLOPs over every trained token; the text run's compute on top for the second accounting.
    assert summary["flops"] == 6 * summary["params"] * summary["tokens"]
    assert summary["params"] == text_summary["params"]  # same body: same N
    assert summary["init_flops"] == text_summary["flops"] and summary["init_run"] == str(text_run)
    assert summary["flops_total"] == summary["flops"] + text_summary["flops"]
    assert summary["init_flops_full"] == text_summary["flops_full"]
    # Speech share of the trained tokens: exactly the unit-token targets the batches held.
    batches = TrainBatches(PackedStream(sh, "train", seed=0), 32, 4)
    targets = np.concatenate([batches.batch(s)[1].ravel() for s in range(summary["steps"])])
    is_unit = (targets >= vocab.unit_offset) & (targets < vocab.unit_offset + K)
    assert summary["speech_tokens"] == int(is_unit.sum()) > 0
    assert summary["speech_token_share"] == pytest.approx(is_unit.mean())
    assert summary["modality"] == "interleaved"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["init_flops"] == text_summary["flops"] and meta["speech_token_share"] == summary["speech_token_share"]

    # RUN/final/slmscale.json: what slmscale.eval.encoders.encoder_from_run reads.
    info = json.loads((out / "final" / "slmscale.json").read_text())
    assert info["modality"] == "interleaved" and info["vocab_size"] == vocab.vocab_size
    assert info["tokenizer"]["path"] == str((tmp / "ext").resolve())
    assert (Path(info["tokenizer"]["path"]) / "speech_vocab.json").is_file()
    assert info["tokenizer"]["units_path"] == "/speech/tok" and info["tokenizer"]["dedup"] is True
    assert info["special_tokens"]["speech"] == vocab.speech_token_id

    class StubSpeechTokenizer:  # stands in for the bundle at /speech/tok
        k, dedup = K, True

        def fingerprint(self):
            return "u0"

    import slmscale.units.bundle as bundle
    from slmscale.eval.encoders import encoder_from_run

    loaded = []
    monkeypatch.setattr(bundle.SpeechTokenizer, "load", classmethod(lambda cls, p, *a, **k: loaded.append(p)
                                                                    or StubSpeechTokenizer()))
    enc = encoder_from_run(info, out / "final" / "slmscale.json")
    assert loaded == ["/speech/tok"] and enc.offset == vocab.unit_offset
    assert enc.prefix == [vocab.eos_id, vocab.speech_token_id]
    assert enc.allowed_tokens == list(range(vocab.unit_offset, vocab.unit_offset + K)) + [vocab.eos_id]


def test_init_compute_follows_runs_and_extensions(lineage, tmp_path):
    tmp, text_run, text_summary = lineage
    for start in (text_run, text_run / "final", tmp / "ext"):
        got = init_compute(start)
        assert got["init_flops"] == text_summary["flops"] and got["init_run_id"] == text_summary["run_id"]
    assert init_compute(None) == {"init_flops": 0.0, "init_flops_full": 0.0, "init_run": None,
                                  "init_run_id": None}
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert init_compute(tmp_path / "hf")["init_flops"] is None  # a model from elsewhere: unknown


def test_speech_share_of_unit_and_text_shards(shards_dir):
    sh = Shards(shards_dir)
    stream = PackedStream(sh, "train", seed=0)
    n = 1000
    flat = stream.read(0, n + 1)[1:]
    assert speech_tokens_trained(stream, sh, n) == int((flat < 46).sum())  # all but EOS/BOS
