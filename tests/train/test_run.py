import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.train import run_training



@pytest.fixture(scope="module")
def finished_run(train_config, shards_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "a"
    summary = run_training(train_config(shards_dir, out, **{"budget.tokens": 128 * 60}))
    return out, summary


def unigram_entropy(shards_dir, split):
    sh = Shards(shards_dir)
    toks = np.concatenate([sh.doc(i) for i in sh.indices(split)])
    p = np.bincount(toks, minlength=sh.vocab_size) / len(toks)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def test_run_layout_and_summary_follow_the_contract(finished_run, shards_dir):
    out, summary = finished_run
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["steps"] == 60 and summary["tokens"] == 60 * 128 == summary["tokens_budget"]
    assert summary["flops"] == 6 * summary["params"] * summary["tokens"]
    assert summary["flops_full"] > summary["flops"] and summary["params_total"] > summary["params"]
    assert summary["shards"] == str(shards_dir.resolve()) and summary["run_id"] == "a"
    assert summary["epochs"] == pytest.approx(60 * 128 / (Shards(shards_dir).split_tokens("train") + 120))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == "run" and meta["config"]["train"]["lr"] == 3e-3
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "train_loss" in r]
    assert [r["step"] for r in train] == list(range(2, 61, 2))
    for key in ("tokens", "flops", "lr", "tokens_per_s", "mfu", "epoch"):
        assert key in train[0]
    valid = [r for r in records if "valid_loss" in r]
    assert valid[-1]["step"] == 60 and valid[-1]["valid_loss"] == summary["loss"]
    assert [r["step"] for r in valid] == [12, 24, 36, 48, 60]  # every steps // 5 (and the end)


def test_held_out_loss_falls_well_below_unigram_entropy(finished_run, shards_dir):
    _, summary = finished_run
    assert summary["loss"] < 0.8 * unigram_entropy(shards_dir, "valid")


def test_final_model_loads_with_auto_class(finished_run, shards_dir):
    from transformers import AutoModelForCausalLM

    out, summary = finished_run
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    info = json.loads((out / "final" / "slmscale.json").read_text())
    sh = Shards(shards_dir)
    assert info["vocab_size"] == sh.vocab_size == model.config.vocab_size
    assert info["special_tokens"] == sh.special_tokens and info["modality"] == "units"
    assert info["tokenizer"]["k"] == 46 and info["shards"] == str(shards_dir.resolve())
    # The saved model gives the same held-out loss as the trainer measured.
    from slmscale.data.loader import validation_sequences

    win = torch.from_numpy(validation_sequences(sh, "valid", 32, 512))
    with torch.no_grad():
        logits = model(input_ids=win[:, :-1]).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), win[:, 1:].reshape(-1))
    assert float(loss) == pytest.approx(summary["loss"], rel=1e-4)


def test_finished_run_is_not_redone_and_other_config_is_refused(train_config, finished_run, shards_dir):
    out, summary = finished_run
    before = (out / "final" / "model.safetensors").stat().st_mtime_ns
    again = run_training(train_config(shards_dir, out, **{"budget.tokens": 128 * 60}))
    assert again == summary and (out / "final" / "model.safetensors").stat().st_mtime_ns == before
    with pytest.raises(UserError, match=r"different config \(train.lr"):
        run_training(train_config(shards_dir, out, **{"budget.tokens": 128 * 60, "train.lr": 1e-3}))


def test_resume_gives_bitwise_identical_weights(train_config, finished_run, shards_dir, tmp_path):
    out, _ = finished_run
    ckpts = sorted((out / "checkpoints").glob("step-*"))
    assert [c.name for c in ckpts] == ["step-00000054", "step-00000057"]  # keep=2, every 3 steps
    resumed = tmp_path / "b"
    shutil.copytree(ckpts[0], resumed / "checkpoints" / ckpts[0].name)
    shutil.copy(out / "config.yaml", resumed / "config.yaml")
    summary = run_training(train_config(shards_dir, resumed, **{"budget.tokens": 128 * 60}), resume=True)
    a = load_file(out / "final" / "model.safetensors")
    b = load_file(resumed / "final" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert summary["steps_done"] == 60


def test_resume_flag_needs_a_checkpoint(train_config, shards_dir, tmp_path):
    with pytest.raises(UserError, match="no checkpoint"):
        run_training(train_config(shards_dir, tmp_path / "none"), resume=True)


def test_budget_beyond_corpus_runs_epochs(train_config, shards_dir, tmp_path):
    cfg = train_config(shards_dir, tmp_path / "e", **{"budget.tokens": None, "budget.tokens_per_param": 3.0,
                                                "model.n_layers": 1, "model.d_model": 16, "model.n_heads": 1,
                                                "model.ffn": 32, "eval.interval_steps": 1000})
    summary = run_training(cfg)
    n = summary["params"]
    assert summary["tokens_budget"] == 3 * n and summary["tokens"] == -(-3 * n // 128) * 128
    assert summary["epochs"] > 1.0


def test_nan_weights_stop_the_run_as_diverged(train_config, shards_dir, tmp_path):
    from slmscale.model.build import build_model
    from slmscale.model.presets import ModelShape

    sh = Shards(shards_dir)
    bad = build_model(ModelShape(1, 32, 2, 64), sh.vocab_size, sh.special_tokens, 64, seed=0)
    with torch.no_grad():
        bad.model.layers[0].mlp.down_proj.weight[0, 0] = float("nan")
    bad.save_pretrained(tmp_path / "bad")
    cfg = train_config(shards_dir, tmp_path / "run", **{"model.init_from": str(tmp_path / "bad"),
                                                  "model.n_layers": None, "model.d_model": None,
                                                  "model.n_heads": None, "model.ffn": None})
    summary = run_training(cfg)
    assert summary["status"] == "diverged" and summary["loss"] is None
    assert "training loss became nan at step 2" in summary["message"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "diverged"
    assert not (tmp_path / "run" / "final").exists() and not (tmp_path / "run" / "meta.json").exists()


def test_missing_shards_fail_before_any_work(train_config, tmp_path):
    with pytest.raises(UserError, match="no meta.json"):
        run_training(train_config(tmp_path / "nope", tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_text_run_saves_a_complete_hugging_face_directory(train_config, tmp_path):
    """final/ of a text run holds the tokenizer too: AutoTokenizer + AutoModelForCausalLM load it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmscale.text.bpe import encode_texts_to_shards, train_bpe

    texts = [f"the {a} {b} ran to the {c}." for a in ("red", "big", "old") for b in ("dog", "cat", "fox")
             for c in ("park", "barn", "lake", "hill")] * 3
    tok = train_bpe(texts, tmp_path / "tok", vocab_size=300)
    encode_texts_to_shards(texts, tok, tmp_path / "sh", splits=["valid" if i % 9 == 0 else "train"
                                                               for i in range(len(texts))])
    run_training(train_config(tmp_path / "sh", tmp_path / "run", **{"budget.tokens": 128 * 4}))
    final = tmp_path / "run" / "final"
    loaded = AutoTokenizer.from_pretrained(str(final))
    assert loaded("the old fox ran")["input_ids"] == tok("the old fox ran")["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(str(final))
    assert model.get_input_embeddings().weight.shape[0] == len(loaded)
