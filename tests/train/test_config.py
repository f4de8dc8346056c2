import pytest
import yaml

from slmscale.errors import UserError
from slmscale.train.config import load_train_config


def write(tmp_path, data):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BASE = {"data": {"shards": "sh"}, "budget": {"tokens": 1000}}


def test_defaults_follow_the_papers(tmp_path):
    cfg = load_train_config(write(tmp_path, BASE))
    assert cfg.train.weight_decay == 0.1 and cfg.train.schedule == "cosine"
    assert cfg.train.precision == "auto" and cfg.model.preset == "cpu-1m"


def test_overrides_apply(tmp_path):
    cfg = load_train_config(write(tmp_path, BASE), ["train.lr=1e-3", "model.preset=20m", "out=/tmp/r"])
    assert cfg.train.lr == 1e-3 and cfg.model.preset == "20m" and cfg.out == "/tmp/r"


@pytest.mark.parametrize("override,needle", [
    (["train.lrr=1"], "train.lrr: unknown key"),
    (["train.lr=-1"], "train.lr"),
    (["train.batch_tokens=1000", "train.seq_len=512"], "multiple of seq_len"),
    (["budget.tokens_per_param=20"], "exactly one of budget.tokens"),
    (["train.precision=fp8"], "train.precision"),
    (["model.n_layers=2"], "n_layers, d_model and n_heads together"),
    (["train.min_lr=1", "train.lr=0.1"], "min_lr"),
])
def test_bad_keys_and_values_name_the_key(tmp_path, override, needle):
    path = write(tmp_path, BASE)
    with pytest.raises(UserError) as err:
        load_train_config(path, override)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_missing_budget_is_an_error(tmp_path):
    with pytest.raises(UserError, match="budget"):
        load_train_config(write(tmp_path, {"data": {"shards": "sh"}}))


def test_shipped_configs_validate():
    from pathlib import Path

    configs = sorted((Path(__file__).parents[2] / "configs" / "train").glob("*.yaml"))
    assert len(configs) >= 6
    for path in configs:
        cfg = load_train_config(path)
        assert cfg.model.preset is not None
