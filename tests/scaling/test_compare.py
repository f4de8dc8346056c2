"""compare.match_equal_compute: pairs at equal full FLOPs."""

from __future__ import annotations

import pytest

from slmscale.scaling import compare


def test_match_equal_compute_pairs_within_tolerance_and_prefers_the_same_size():
    partners = [{"run_id": "t1", "preset": "s", "seed": 0, "flops_full": 100.0},
                {"run_id": "t2", "preset": "m", "seed": 0, "flops_full": 100.0},
                {"run_id": "t3", "preset": "m", "seed": 1, "flops_full": 101.0}]
    runs = [{"run_id": "i1", "preset": "m", "seed": 0, "flops_full": 101.5},
            {"run_id": "i2", "preset": "m", "seed": 0, "flops_full": 150.0},
            {"run_id": "i3", "preset": "m", "seed": 0, "flops_full": None}]
    m1, m2, m3 = compare.match_equal_compute(runs, partners)
    assert m1["partner"]["run_id"] == "t2" and m1["matched"] and m1["ratio"] == pytest.approx(1.015)
    assert m2["partner"]["run_id"] == "t2" and not m2["matched"] and m2["ratio"] == pytest.approx(1.5)
    assert m3["partner"] is None and not m3["matched"]
