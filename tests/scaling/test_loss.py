"""loss.analyze: the warnings that say when a fitted law should not be trusted."""

import numpy as np
import pandas as pd

from slmscale.scaling import loss
from support import scaling_tables as synthetic

TRUE = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def test_a_wide_clean_ladder_gets_no_warnings():
    df = synthetic.loss_table(TRUE, noise=0.002, seed=0)
    record = loss.analyze(df, delta=1e-3, show_progress=False)
    assert record["warnings"] == [], record["warnings"]


def test_a_narrow_ladder_is_flagged():
    # Two sizes 2x apart, budgets 5x apart: the N and D terms cannot be told apart.
    rows = [(n, d, 30.0 / n**0.3 + 40.0 / d**0.3) for n in (5e4, 1e5) for d in (2e5, 4e5, 1e6)]
    df = pd.DataFrame(rows, columns=["params", "tokens", "loss"])
    df["flops"] = 6 * df["params"] * df["tokens"]
    df["run_id"] = [f"r{i}" for i in range(len(df))]
    record = loss.analyze(df, delta=0.03, show_progress=False)
    text = " | ".join(record["warnings"])
    assert "spans 2.0x in parameters and 5.0x in tokens" in text


def test_an_underflowed_irreducible_loss_is_flagged():
    N, D, L = np.geomspace(1e5, 1e8, 4), np.geomspace(1e6, 1e9, 4), np.array([3.0, 2.5, 2.1, 1.9])
    notes = loss.fit_warnings({"E": 1e-12, "alpha": 0.3, "beta": 0.3}, N, D, L)
    assert len(notes) == 1 and notes[0].startswith("E = 1e-12 (irreducible loss ~0)")
    assert loss.fit_warnings({"E": 1.5, "alpha": 0.3, "beta": 0.3}, N, D, L) == []


def test_exponents_and_intervals_out_of_range():
    N, D = np.array([1e5, 1e7]), np.array([1e6, 1e8])
    L = np.array([3.0, 2.0])
    record = {"E": 1.7, "alpha": 2.29, "beta": 0.55, "ci_level": 0.95,
              "ci": {"alpha": [0.02, 32.9], "beta": [0.07, 1.5]}}
    notes = loss.fit_warnings(record, N, D, L)
    assert any(n.startswith("alpha = 2.29 is outside") for n in notes)
    assert any("alpha's 95% interval [0.02, 32.9] spans 1645x" in n for n in notes)
    assert any("beta's 95% interval [0.07, 1.5] spans 21x" in n for n in notes)
    assert not any(n.startswith("beta = ") or "irreducible" in n or "ladder spans" in n for n in notes)


def test_split_repeated_counts_and_names_the_runs():
    df = pd.DataFrame({"run_id": ["r1", "r2", "r3", "r4"], "params": 1.0, "tokens": [10.0, 20, 30, 40],
                       "epochs": [1.0, 1.04, 1.2, None]})
    kept, left = loss.split_repeated(df)
    assert kept["run_id"].tolist() == ["r1", "r2", "r4"]  # within tolerance; unknown = not repeated
    assert left["n"] == 1 and left["runs"] == ["r3"] and "1.05 epochs" in left["reason"]
    kept, left = loss.split_repeated(df.drop(columns="epochs"))
    assert left is None and len(kept) == 4  # no epoch information: nothing to leave out
