import pytest

from slmscale.train.schedule import default_warmup, lr_at


def test_default_warmup_is_max_100_1pct_capped_at_10pct():
    assert default_warmup(100_000) == 1000
    assert default_warmup(5_000) == 100
    assert default_warmup(500) == 50  # 100 steps would be 20% of the run
    assert default_warmup(5) == 1 and default_warmup(1) == 0


def test_cosine_warms_up_then_decays_to_min():
    total, warm = 1000, 100
    lrs = [lr_at(s, total, 1.0, 0.1, warm) for s in range(total)]
    assert lrs[0] == pytest.approx(0.01) and lrs[warm - 1] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[warm:], lrs[warm + 1:]))
    assert lrs[-1] == pytest.approx(0.1, abs=1e-4)
    assert lr_at(warm + (total - warm) // 2, total, 1.0, 0.1, warm) == pytest.approx(0.55)


def test_linear_and_constant():
    assert lr_at(50, 100, 1.0, 0.0, 0, "linear") == pytest.approx(0.5)
    assert lr_at(99, 100, 2.0, 0.0, 10, "constant") == 2.0
