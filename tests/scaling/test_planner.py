"""planner: degenerate fits are refused in one line."""

from __future__ import annotations

import pytest

from slmscale.errors import UserError
from slmscale.scaling import forms, planner


def _degenerate_record():
    return {"form": "chinchilla", "E": 0.0, "A": 10.0, "B": 20.0, "alpha": 2.6, "beta": 0.3,
            "warnings": ["alpha = 2.6 is outside the usual 0.05-2 range"]}


def test_planner_refuses_degenerate_fits_in_one_line():
    with pytest.raises(UserError) as err:
        planner.plan_flops({**_degenerate_record(), **forms.derived(_degenerate_record())}, 1e20)
    assert str(err.value) == ("not extrapolating from this loss fit: it is degenerate "
                              "(alpha = 2.6 is outside the usual 0.05-2 range)")
    ds = {"form": "downstream", "metric": "sblimp", "arms": {"s": {"gamma": 0.02, "k": 0.3, "warnings": ["x"]}}}
    with pytest.raises(UserError, match="not extrapolating from the sblimp law of arm 's'"):
        planner.target_via_compute(ds, "sblimp", 0.7)
