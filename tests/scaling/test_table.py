"""table.select_arm: one arm per fit, never pooled."""

from __future__ import annotations

import pandas as pd
import pytest

from slmscale.errors import UserError
from slmscale.scaling import table


def test_select_arm_refuses_to_pool_and_picks_one():
    df = table.prepare(pd.DataFrame({"arm": ["a", "a", "b"], "params": [1, 2, 3], "tokens": [4, 5, 6],
                                     "loss": [3, 2, 1]}), source="r.csv")
    with pytest.raises(UserError, match=r"r.csv: the table has arms a, b; choose one with --arm NAME"):
        table.select_arm(df, None)
    one = table.select_arm(df, "b")
    assert one["params"].tolist() == [3.0] and one.attrs["source"] == "r.csv [arm b]"
    with pytest.raises(UserError, match="arm 'c' not in the table"):
        table.select_arm(df, "c")
    single = df[df["arm"] == "a"].copy()
    single.attrs.update(df.attrs)
    assert len(table.select_arm(single, None)) == 2  # one arm: nothing to choose
