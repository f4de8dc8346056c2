"""Pickled weights are refused in one line (issue #11, item 9), wherever a model is loaded."""

from __future__ import annotations

import pytest
import torch

from slmscale.errors import UserError
from slmscale.model.build import build_model, check_weights, load_pretrained
from slmscale.model.presets import ModelShape
from support.failures import assert_one_line_error, run_cli, train_yaml, unit_shards


@pytest.fixture
def saved(tmp_path):
    model = build_model(ModelShape(1, 16, 2, 32), 22, {"bos": 20, "eos": 21}, 64, seed=0)
    model.save_pretrained(tmp_path / "m")
    return model, tmp_path / "m"


def test_pytorch_model_bin_is_refused(saved):
    model, d = saved
    (d / "model.safetensors").unlink()
    torch.save(model.state_dict(), d / "pytorch_model.bin")
    with pytest.raises(UserError, match=r"weights are pickled \(pytorch_model.bin\)"):
        load_pretrained(d)


def test_a_pickle_named_safetensors_is_refused(saved):
    model, d = saved
    torch.save(model.state_dict(), d / "model.safetensors")
    with pytest.raises(UserError, match="a pickle named .safetensors"):
        check_weights(d, "model")


def test_no_weights_at_all(saved):
    _, d = saved
    (d / "model.safetensors").unlink()
    with pytest.raises(UserError, match="no model weights"):
        load_pretrained(d)


def test_train_init_from_a_pickle_is_one_line(saved, tmp_path, capsys):
    model, d = saved
    (d / "model.safetensors").unlink()
    torch.save(model.state_dict(), d / "pytorch_model.bin")
    shards = unit_shards(tmp_path / "sh")
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run",
                     **{"model.init_from": str(d), "model.n_layers": None, "model.d_model": None,
                        "model.n_heads": None, "model.ffn": None})
    code, _, err = run_cli(capsys, "train", cfg)
    assert_one_line_error(code, err, "model.init_from", "pickled", "pytorch_model.bin")
    assert not (tmp_path / "run").exists()


def test_good_weights_still_load(saved):
    model, d = saved
    loaded = load_pretrained(d)
    a, b = model.state_dict(), loaded.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
