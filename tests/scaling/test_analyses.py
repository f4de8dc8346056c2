import numpy as np
import pandas as pd
import pytest

from slmscale.errors import UserError
from slmscale.scaling import compare, downstream, envelope, fitfile, forms, isoflop, planner, table

P = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def _iso():
    rows = []
    for C in [1e18, 1e19, 1e20, 1e21]:
        n0 = forms.n_opt(C, P["A"], P["B"], P["alpha"], P["beta"])
        for N in np.geomspace(n0 / 8, n0 * 8, 7):
            rows.append((N, C / 6 / N, C, forms.chinchilla_loss(N, C / 6 / N, **P)))
    return table.prepare(pd.DataFrame(rows, columns=["params", "tokens", "flops", "loss"]))


def test_isoflop_and_envelope_recover_exponents():
    a, b = forms.optimal_exponents(P["alpha"], P["beta"])
    iso = isoflop.fit(_iso())
    assert iso["a"] == pytest.approx(a, abs=1e-3) and iso["b"] == pytest.approx(b, abs=1e-3)
    env = envelope.fit(_iso())
    assert env["a"] == pytest.approx(a, abs=0.01) and env["gamma"] < 0
    assert list(envelope.frontier([1, 2, 3, 4], [5, 6, 4, 4])) == [0, 2]


def test_isoflop_too_few_budgets():
    with pytest.raises(UserError, match="IsoFLOP"):
        isoflop.fit(_iso().iloc[:7])


def test_downstream_gamma_and_comparison():
    from support import scaling_tables as synthetic
    df = table.prepare(pd.concat([synthetic.downstream_table(0.066, 0.03, arm="text", seed=1),
                                  synthetic.downstream_table(0.021, 0.25, arm="speech", seed=2)]),
                       target="sblimp")
    rec = downstream.analyze(df, "sblimp", n_boot=30, show_progress=False)
    assert rec["arms"]["text"]["gamma"] == pytest.approx(0.066, abs=0.003)
    assert rec["arms"]["speech"]["gamma"] == pytest.approx(0.021, abs=0.003)
    c = rec["comparisons"][0]
    assert c["fast"] == "text" and c["exponent_ratio"] == pytest.approx(3.14, abs=0.3)
    assert rec["arms"]["speech"]["vs_compute"]["preferred"] == "power"


def test_saturating_preferred_on_saturating_data():
    C = np.geomspace(1e15, 1e21, 12)
    Q = forms.saturating(C, 0.8, 5.0, 0.1)
    out = downstream.compare_forms(C, Q)
    assert out["preferred"] == "saturating"
    assert out["saturating"]["q_inf"] == pytest.approx(0.8, abs=0.01)


def test_vs_loss_cutoff():
    loss = np.linspace(2.0, 4.0, 20)
    q = np.clip(1.2 - 0.2 * loss, 0.5, None)
    lv = downstream.fit_vs_loss(loss, q)
    assert lv["slope"] == pytest.approx(-0.2) and lv["n_excluded"] > 0 and lv["r2"] > 0.999


def test_compare_exact_multiplier():
    c = compare.compare(0.066, 0.021, "text", "speech")
    assert c["compute_multiplier"]["10"] == pytest.approx(10 ** (0.066 / 0.021))


def test_planner_flops_and_targets(tmp_path):
    rec = fitfile.load(fitfile.published()["text_chinchilla2022"])
    ans = planner.plan_flops(rec, 1e21)
    assert ans["n_opt"] * ans["d_opt"] * 6 == pytest.approx(1e21)
    assert ans["loss"] == pytest.approx(float(forms.optimal_loss(1e21, **P)))
    c = planner.flops_for_loss(P, ans["loss"])
    assert c == pytest.approx(1e21, rel=1e-6)
    ds = {"form": "downstream", "metric": "sblimp", "arms": {"s": {"gamma": 0.02, "k": 0.25,
          "vs_loss": {"slope": -0.2, "intercept": 1.2}}}}
    t = planner.target_via_compute(ds, "sblimp", 0.6)
    assert 0.25 * t["flops"] ** 0.02 == pytest.approx(0.6)
    t2 = planner.target_via_loss(rec, ds, "sblimp", 1.2 - 0.2 * ans["loss"])
    assert t2["flops"] == pytest.approx(1e21, rel=1e-5)
    with pytest.raises(UserError):
        planner.parse_target("sblimp")


def test_published_files_load():
    pub = fitfile.published()
    assert {"speech_units_cm2024", "text_muennighoff2023", "downstream_sblimp_cm2024"} <= set(pub)
    for path in pub.values():
        fitfile.load(path)
    assert fitfile.load(pub["speech_units_cm2024"])["E"] == 1.73
