import pytest
import torch

from slmscale.errors import UserError
from slmscale.train.checkpoint import list_checkpoints, load_checkpoint, restore_rng, rng_state, save_checkpoint
from slmscale.train.distributed import pick_device


def _opt_state():
    p = torch.nn.Parameter(torch.randn(3, 2))
    opt = torch.optim.AdamW([p], lr=0.1)
    p.grad = torch.randn(3, 2)
    opt.step()
    return p, opt


def test_roundtrip_restores_optimizer_exactly(tmp_path):
    p, opt = _opt_state()
    path = save_checkpoint(tmp_path, 5, {"w": p.detach()}, opt.state_dict(), {"cpu": torch.get_rng_state()},
                           {"tokens": 10}, keep=3)
    model, opt_sd, rng, state = load_checkpoint(path)
    assert state["step"] == 5 and state["tokens"] == 10
    assert torch.equal(model["w"], p.detach()) and torch.equal(rng["cpu"], torch.get_rng_state())
    q = torch.nn.Parameter(p.detach().clone())
    opt2 = torch.optim.AdamW([q], lr=0.1)
    opt2.load_state_dict(opt_sd)
    g = torch.randn(3, 2)
    p.grad, q.grad = g.clone(), g.clone()
    opt.step()
    opt2.step()
    assert torch.equal(p, q)  # same next update, bit for bit


def test_keeps_last_k_and_ignores_partial(tmp_path):
    p, opt = _opt_state()
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, step, {"w": p.detach()}, opt.state_dict(), {"cpu": torch.get_rng_state()},
                        {}, keep=2)
    (tmp_path / ".tmp-step-00000009").mkdir()  # a crash mid-write leaves only a hidden temp dir
    (tmp_path / "step-00000007").mkdir()  # no state.json: incomplete, never resumed from
    assert [c.name for c in list_checkpoints(tmp_path)] == ["step-00000003", "step-00000004"]


def test_tied_weights_are_saved(tmp_path):
    w = torch.randn(4, 4)
    path = save_checkpoint(tmp_path, 1, {"a": w, "b": w}, {"state": {}, "param_groups": []},
                           {"cpu": torch.get_rng_state()}, {}, keep=1)
    model, *_ = load_checkpoint(path)
    assert torch.equal(model["a"], model["b"])


def test_saved_rng_state_replays_the_same_draws(tmp_path):
    cpu = torch.device("cpu")
    path = save_checkpoint(tmp_path, 1, {}, {"state": {}, "param_groups": []}, rng_state(cpu), {}, keep=1)
    expected = torch.rand(4)
    torch.rand(7)  # move the generator on
    restore_rng(load_checkpoint(path)[2], cpu)
    assert torch.equal(torch.rand(4), expected)
    assert set(rng_state(cpu)) == {"cpu"}  # a CUDA state only on a CUDA device


def test_pick_device_names_the_setting_when_cuda_is_missing(monkeypatch):
    assert pick_device("cpu", "device").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto", "train.device").type == "cpu"
    with pytest.raises(UserError, match=r"^train.device=cuda but no CUDA device is visible; use train.device=auto$"):
        pick_device("cuda", "train.device")
