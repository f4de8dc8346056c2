import pytest

from slmscale.errors import UserError
from slmscale.model.presets import (CPU_PRESETS, PAPER_PRESETS, PRESETS, ffn_size, resolve_preset,
                                     shape_for_params)


@pytest.mark.parametrize("name,nominal", [("20m", 20e6), ("85m", 85e6), ("155m", 155e6), ("309m", 309e6),
                                          ("823m", 823e6)])
def test_paper_ladder_matches_nominal_sizes(name, nominal):
    shape = PAPER_PRESETS[name]
    assert shape.ffn % 256 == 0 and shape.ffn >= 8 * shape.d_model / 3
    assert shape.d_model % shape.n_heads == 0
    assert abs(shape.non_embedding_params - nominal) / nominal < 0.03


def test_paper_ladder_shapes_are_the_papers():
    got = {k: (v.n_layers, v.d_model, v.n_heads) for k, v in PAPER_PRESETS.items()}
    assert got == {"20m": (6, 512, 8), "85m": (12, 768, 12), "155m": (12, 1024, 16),
                   "309m": (24, 1024, 16), "823m": (16, 2048, 32)}


def test_cpu_ladder_spans_50k_to_5m_and_grows():
    sizes = [s.non_embedding_params for s in CPU_PRESETS.values()]
    assert sizes == sorted(sizes)
    assert 40e3 < sizes[0] < 70e3 and 4e6 < sizes[-1] < 6e6
    assert abs(PRESETS["cpu-1m"].non_embedding_params - 1e6) / 1e6 < 0.1


@pytest.mark.parametrize("target", [3e4, 2e5, 7.5e5, 3e6, 4e7, 1.2e8])
def test_shape_rule_hits_any_size(target):
    shape = shape_for_params(target)
    assert abs(shape.non_embedding_params - target) / target < 0.2
    assert shape.d_model % shape.n_heads == 0
    assert shape.ffn == ffn_size(shape.d_model)


def test_resolve_named_and_auto_presets():
    assert resolve_preset("CPU-1M") == PRESETS["cpu-1m"]
    assert resolve_preset("auto-3m") == shape_for_params(3e6)
    assert resolve_preset("auto-750k") == shape_for_params(7.5e5)
    with pytest.raises(UserError, match="model.preset 'huge'"):
        resolve_preset("huge")
