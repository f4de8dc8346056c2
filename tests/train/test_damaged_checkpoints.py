"""Damaged checkpoints and final models (issue #11, item 4): one line, and resume falls back to
the newest checkpoint that loads cleanly, naming the one it skipped."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from slmscale.config import validate
from slmscale.train import run_training
from slmscale.train.checkpoint import list_checkpoints
from slmscale.train.config import TrainConfig
from support.failures import assert_one_line_error, run_cli, train_yaml, unit_shards


def truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def unfinish(run) -> None:
    """Make a finished run look killed after its last checkpoint."""
    (run / "meta.json").unlink()
    import shutil

    shutil.rmtree(run / "final")
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "running"}))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return unit_shards(tmp_path_factory.mktemp("sh") / "sh")


def config(shards, out, tmp_path):
    import yaml

    return validate(TrainConfig, yaml.safe_load(train_yaml(tmp_path / "cfg.yaml", shards, out).read_text()))


def test_resume_skips_a_truncated_checkpoint_and_matches(shards, tmp_path, capsys):
    ref = run_training(config(shards, tmp_path / "ref", tmp_path))
    run = tmp_path / "run"
    run_training(config(shards, run, tmp_path))
    names = [p.name for p in list_checkpoints(run / "checkpoints")]
    assert names == ["step-00000002", "step-00000004"]
    unfinish(run)
    truncate(run / "checkpoints" / "step-00000004" / "model.safetensors")
    capsys.readouterr()
    code, _, err = run_cli(capsys, "train", tmp_path / "cfg.yaml", "--out", run)
    assert code == 0, err
    assert "skipping damaged checkpoint step-00000004" in err and "from step 2/6" in err
    assert (run / "checkpoints" / ".damaged-step-00000004").is_dir()  # kept for a look, not rotated
    a = load_file(tmp_path / "ref" / "final" / "model.safetensors")
    b = load_file(run / "final" / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert ref["status"] == "finished"


def test_every_checkpoint_damaged_is_one_line(shards, tmp_path, capsys):
    run = tmp_path / "run"
    run_training(config(shards, run, tmp_path))
    unfinish(run)
    for ckpt in list_checkpoints(run / "checkpoints"):
        (ckpt / "state.json").write_text("{ not json")
    code, _, err = run_cli(capsys, "train", tmp_path / "cfg.yaml", "--out", run)
    assert_one_line_error(code, err, "every checkpoint is damaged (2)", "delete the checkpoints folder")


def test_a_truncated_final_model_is_one_line_when_loaded(shards, tmp_path, capsys):
    run_training(config(shards, tmp_path / "first", tmp_path))
    truncate(tmp_path / "first" / "final" / "model.safetensors")
    cfg = train_yaml(tmp_path / "next.yaml", shards, tmp_path / "next",
                     **{"model.init_from": str(tmp_path / "first" / "final"), "model.preset": None,
                        "model.n_layers": None, "model.d_model": None, "model.n_heads": None,
                        "model.ffn": None})
    code, _, err = run_cli(capsys, "train", cfg)
    assert_one_line_error(code, err, "model.safetensors", "damaged safetensors file")
    assert not (tmp_path / "next").exists()
