"""Chinchilla loss fit, its bootstrap and the results table it reads."""

import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.scaling import bootstrap, chinchilla, forms, loss, table
from support import scaling_tables as synthetic

TRUE = dict(E=1.73, A=13.9, B=39.8, alpha=0.25, beta=0.24)


def test_g_constant_is_the_true_optimum():
    from scipy.optimize import minimize_scalar
    p = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    C = 1e21
    r = minimize_scalar(lambda x: forms.chinchilla_loss(np.exp(x), C / 6 / np.exp(x), **p),
                        bounds=(10, 40), method="bounded", options={"xatol": 1e-9})
    assert np.exp(r.x) == pytest.approx(forms.n_opt(C, 406.4, 410.7, 0.34, 0.28), rel=1e-4)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(13, 20, 40), rng.uniform(15, 25, 40)
    logl = np.log(rng.uniform(2, 4, 40))
    th = np.array([2.0, 3.0, 0.5, 0.3, 0.3])
    f, g = chinchilla.objective(th, x, y, logl, 0.03)
    num = [(chinchilla.objective(th + e, x, y, logl, 0.03)[0] - chinchilla.objective(th - e, x, y, logl, 0.03)[0]) / 2e-6
           for e in np.eye(5) * 1e-6]
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-6)
    many = chinchilla.objective_many(th[None], x, y, logl, 0.03)
    assert many[0] == pytest.approx(f)


def test_recovery_from_noisy_ladder():
    df = table.prepare(synthetic.loss_table(TRUE, noise=0.002, seed=3))
    fit = chinchilla.fit(df)
    assert fit.E == pytest.approx(1.73, rel=0.02)
    assert fit.alpha == pytest.approx(0.25, abs=0.03)
    assert fit.beta == pytest.approx(0.24, abs=0.02)
    a, _ = forms.optimal_exponents(0.25, 0.24)
    assert fit.to_dict()["a"] == pytest.approx(a, abs=0.04)


def test_analyze_has_contract_fields_and_bootstrap_covers_truth():
    df = table.prepare(synthetic.loss_table(TRUE, noise=0.005, seed=5))
    rec = loss.analyze(df, n_boot=60, seed=1, show_progress=False)
    for k in ("form", "E", "A", "B", "alpha", "beta", "a", "b", "G", "n_points", "huber_delta", "ci"):
        assert k in rec
    assert rec["n_points"] == 64
    lo, hi = rec["ci"]["beta"]
    assert lo < rec["beta"] < hi
    assert len(rec["bootstrap"]["samples"]["E"]) == 60 - rec["bootstrap"]["failed"]
    assert rec["holdout"]["n_heldout"] == 1 and rec["holdout"]["mean_abs_rel_err"] < 0.05


def test_data_constrained_recovers_repetition_constant():
    p = {**TRUE, "r_star_n": 31.0, "r_star_d": 25.0}
    df = table.prepare(synthetic.loss_table(p, noise=0.001, seed=2, epochs=[1, 4, 16, 64]),
                       extra=("epochs",))
    rec = loss.analyze(df, form="data-constrained", delta=0.03, show_progress=False)
    assert rec["form"] == "data-constrained"
    assert 12 < rec["r_star_d"] < 50


def test_errors_are_user_errors():
    df = synthetic.loss_table(TRUE, seed=0)
    with pytest.raises(UserError, match="missing column"):
        table.prepare(df.drop(columns=["loss"]))
    bad = df.copy()
    bad.loc[3, "params"] = -1
    with pytest.raises(UserError, match="positive"):
        table.prepare(bad)
    with pytest.raises(UserError, match="at least 6"):
        chinchilla.fit(table.prepare(df.head(4)))
    assert table.prepare(df.drop(columns=["flops"]))["flops"].iloc[0] == pytest.approx(6 * df.params[0] * df.tokens[0])
    df.loc[0, "status"] = "diverged"
    assert table.prepare(df).attrs["dropped"] == 1


def test_loss_ci_without_samples_is_nan():
    # No finite refit at all (a degenerate fit): the intervals are NaN, never an exception.
    ci = bootstrap.loss_ci(np.zeros((0, 5)))
    assert set(ci) == {"E", "A", "B", "alpha", "beta", "a", "b", "G"} and all(np.isnan(v[0]) for v in ci.values())


def test_theta_stays_finite_when_a_coefficient_underflowed():
    fit = chinchilla.LossFit(E=0.0, A=1e3, B=1e2, alpha=0.3, beta=0.3)
    assert np.all(np.isfinite(fit.theta))
    back = chinchilla.LossFit.from_theta(fit.theta)
    assert back.E == pytest.approx(0.0, abs=1e-300) and back.A == pytest.approx(1e3) and back.alpha == 0.3
