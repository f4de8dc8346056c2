"""`slmscale model extend`, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


TEXTS = ["the cat sat on the mat", "a dog ran to the park", "mia found a key under the bridge"] * 6



@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> tuple[Path, Path]:
    """A slmscale-style text RUN (final/ model + slmscale.json naming its tokenizer) and the tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmscale.text.bpe import train_bpe

    root = tmp_path_factory.mktemp("m")
    tok = train_bpe(TEXTS, root / "tok", vocab_size=280)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    run_dir = root / "run"
    model.save_pretrained(run_dir / "final")
    (run_dir / "final" / "slmscale.json").write_text(json.dumps(
        {"modality": "text", "tokenizer": {"kind": "text", "path": str(root / "tok")}}))
    (run_dir / "summary.json").write_text(json.dumps({"status": "finished", "flops": 1e9, "run_id": "t"}))
    return run_dir, root / "tok"


def test_extend_a_run_by_k_then_check_against_shards(text_run, tmp_path, cli):
    from slmscale.data.shards import ShardWriter
    from slmscale.text.interleaved_vocab import read_speech_vocab

    run_dir, tok = text_run
    code, _, err = cli("model", "extend", "--model", str(run_dir), "--units", "7", "--out",
                       str(tmp_path / "ext"))
    assert code == 0, err
    v = read_speech_vocab(tmp_path / "ext")
    assert v.k == 7 and v.unit_offset == 280 and v.speech_token_id == 287 and v.text_token_id == 288
    assert "units (ids 280..286)" in err and "<speech> 287" in err
    meta = json.loads((tmp_path / "ext" / "meta.json").read_text())
    assert meta["source"] == str((run_dir / "final").resolve()) and meta["tokenizer_source"] == str(tok.resolve())
    code, _, err = cli("model", "extend", "--model", str(run_dir), "--units", "7", "--out",
                       str(tmp_path / "ext"))
    assert code == 0 and "up to date" in err

    # Tokenizer only (no model): the same ids; shards made with it pass --check-shards.
    code, _, err = cli("model", "extend", "--tokenizer", str(tok), "--units", "7", "--out",
                       str(tmp_path / "tok-ext"))
    assert code == 0 and "extended tokenizer" in err

    def shards_with(path, name):
        w = ShardWriter(tmp_path / name, 300, {"eos": 2}, "interleaved",
                        tokenizer={"kind": "interleaved", "path": str(path), "k": 7})
        w.add(np.array([287, 280, 288, 5]), doc_id="d")
        w.close({})
        return tmp_path / name

    ok = shards_with(tmp_path / "tok-ext", "il")
    code, _, err = cli("model", "extend", "--model", str(run_dir), "--units", "7", "--out",
                       str(tmp_path / "ext"), "--check-shards", str(ok))
    assert code == 0, err
    cli("model", "extend", "--tokenizer", str(tok), "--units", "8", "--out", str(tmp_path / "k8"))
    bad = shards_with(tmp_path / "k8", "il8")
    code, _, err = cli("model", "extend", "--model", str(run_dir), "--units", "7", "--out",
                       str(tmp_path / "ext"), "--check-shards", str(bad))
    assert code == 2 and "different token layouts (k 7 vs 8)" in err


def test_k_from_a_speech_tokenizer_or_unit_shards(text_run, tmp_path, cli):
    from slmscale.data.shards import ShardWriter

    run_dir, _ = text_run
    (tmp_path / "tokdir").mkdir()
    (tmp_path / "tokdir" / "meta.json").write_text(json.dumps({"kind": "speech-tokenizer", "k": 5}))
    w = ShardWriter(tmp_path / "units", 11, {"eos": 10}, "units", tokenizer={"kind": "units", "k": 9})
    w.add(np.array([1, 2]), doc_id="d")
    w.close({})
    for units, k in ((tmp_path / "tokdir", 5), (tmp_path / "units", 9)):
        code, _, err = cli("model", "extend", "--tokenizer", str(text_run[1]), "--units", str(units),
                           "--out", str(tmp_path / f"e{k}"))
        assert code == 0, err
        assert json.loads((tmp_path / f"e{k}" / "speech_vocab.json").read_text())["k"] == k


@pytest.mark.parametrize("argv, needle", [
    (["--units", "5"], "give --model"),
    (["--model", "{run}", "--units", "zero"], "--units zero: give K"),
    (["--model", "{run}", "--units", "0"], "need at least one unit token"),
    (["--model", "{hf}", "--units", "5"], "no tokenizer files here; give --tokenizer"),
    (["--model", "{run}/final", "--units", "5", "--check-shards", "{run}"], "not interleaved shards"),
])
def test_bad_invocations_are_one_line_errors(text_run, tmp_path, cli, argv, needle):
    run_dir, _ = text_run
    hf = tmp_path / "hf"
    hf.mkdir()
    for f in ("config.json", "model.safetensors"):
        (hf / f).write_bytes((run_dir / "final" / f).read_bytes())
    argv = [a.format(run=run_dir, hf=hf) for a in argv]
    code, _, err = cli("model", "extend", *argv, "--out", str(tmp_path / "o"))
    assert code == 2 and needle in err and err.startswith("error:")
