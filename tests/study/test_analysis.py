"""study.analysis composes slmscale.scaling: repeated data and fits.form, equal-compute pairing on
flops_full, exponent ratios, degenerate fits refused by the planner, no fitting code in study/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slmscale.study.analysis import analyse, compare_interleaved, exponent_ratios, public
from slmscale.study.spec import load_spec
from study_helpers import make_spec, write_spec

E, A, B, ALPHA, BETA = 1.7, 40.0, 60.0, 0.3, 0.28


def _row(arm, n, d, epochs=1.0, **kw):
    # Repeated tokens are worth less (Muennighoff): the loss sees D' < D when epochs > 1.
    u = d / epochs
    d_eff = u + u * 3.0 * (1 - 2.718281828 ** (-(epochs - 1) / 3.0))
    c = 6.0 * n * d
    return {"run_id": f"{arm}-{int(n)}-{int(d)}", "arm": arm, "kind": "units", "preset": f"fake-{int(n)}",
            "budget": f"epochs={epochs:g}" if epochs > 1 else f"tpp={d / n:g}", "seed": 0, "params": n,
            "params_total": n + 4096, "tokens": d, "flops": c, "flops_full": 1.1 * c, "epochs": epochs,
            "loss": E + A / n ** ALPHA + B / d_eff ** BETA, "status": "finished", "swuggy": None, "sblimp": None,
            "ssc": None, "tsc": None, "init_run": None, "init_flops": 0.0, "flops_total": c, "wall_s": 1.0,
            "run_wall_s": 1.0, "error": None, **kw}


def _repeated_rows():
    rows = [_row("speech", n, n * r) for n in (2e4, 6e4, 2e5, 6e5) for r in (2, 8, 32)]
    rows += [_row("speech", n, n * 40, epochs=ep) for n in (6e4, 2e5) for ep in (4.0, 12.0)]
    return rows


def _spec(tmp_path, shards, form="chinchilla", **extra):
    d = make_spec(tmp_path, shards, fits={"bootstrap": 0, "form": form}, **extra)
    return load_spec(write_spec(tmp_path, d))


@pytest.mark.slow  # four loss fits (two forms, each with its hold-out refit)
def test_chinchilla_form_leaves_out_repeated_runs_and_says_so(tmp_path, shards):
    rows = _repeated_rows()
    chin = analyse(_spec(tmp_path, shards), tmp_path, rows)["arms"]["speech"]
    lf = chin["loss_fit"]
    assert lf["form"] == "chinchilla" and lf["n_points"] == 12
    left = lf["excluded_repeated"]
    assert left["n"] == 4 and len(left["runs"]) == 4 and "repeat their data" in left["reason"]
    assert chin["loss_envelope"]["excluded_repeated"]["n"] == 4  # the envelope is single-epoch too
    assert lf["alpha"] == pytest.approx(ALPHA, abs=0.03) and lf["beta"] == pytest.approx(BETA, abs=0.03)

    dc = analyse(_spec(tmp_path, shards, form="data-constrained"), tmp_path, rows)["arms"]["speech"]["loss_fit"]
    assert dc["form"] == "data-constrained" and dc["n_points"] == 16 and "excluded_repeated" not in dc
    assert dc["n_multi_epoch"] == 4 and dc["r_star_d"] == pytest.approx(3.0, rel=0.2)
    # The form changes the fit: Muennighoff's law predicts the repeated runs, the Chinchilla law
    # (which would count repeated tokens as new) underestimates their loss.
    from slmscale.scaling import forms

    rep = [r for r in rows if r["epochs"] > 1]
    dc_res = {x["run"]: abs(x["log_residual"]) for x in dc["goodness"]["residuals"]}
    assert max(dc_res[r["run_id"]] for r in rep) < 0.005
    chin_pred = [forms.chinchilla_loss(r["params"], r["tokens"], *(lf[k] for k in forms.LOSS_PARAMS)) for r in rep]
    assert min(r["loss"] / p - 1 for r, p in zip(rep, chin_pred)) > 0.01


def test_degenerate_fit_is_flagged_and_the_planner_refuses(tmp_path, shards):
    # A ladder 3x in N and 4x in D: the fit's own warnings fire.
    rows = [_row("speech", n, n * r) for n in (2e4, 3.5e4, 6e4) for r in (4, 8, 16)]
    spec = _spec(tmp_path, shards, questions={"flops": [1e14]})
    fits = analyse(spec, tmp_path, rows)
    lf = fits["arms"]["speech"]["loss_fit"]
    assert lf["degenerate"] and any("ladder spans" in w for w in lf["warnings"])
    assert fits["degenerate"][0]["arm"] == "speech"
    (ans,) = fits["planner"]["answers"]
    assert ans["error"].startswith("not extrapolating from this loss fit: it is degenerate")
    assert "n_opt" not in ans


def test_exponent_ratio_text_over_speech_with_interval():
    laws = {"speech": {"gamma": 0.021, "bootstrap": {"samples": {"gamma": [0.02, 0.021, 0.022]}}},
            "text": {"gamma": 0.066, "bootstrap": {"samples": {"gamma": [0.06, 0.066, 0.07]}}}}
    (r,) = exponent_ratios({"speech": "units", "text": "text"}, {"sblimp": {"arms": laws}})
    assert r["metric"] == "sblimp" and r["ratio"] == pytest.approx(0.066 / 0.021)
    assert r["ratio_ci"][0] < r["ratio"] < r["ratio_ci"][1] and "for speech" in r["note"]


def test_interleaved_runs_pair_on_full_flops_within_two_percent(tmp_path, shards):
    from study_helpers import interleaved_spec

    spec = load_spec(write_spec(tmp_path, interleaved_spec(tmp_path, shards)))

    def row(arm, preset, n, full, sblimp, init_run=None, t2s=None):
        return {"run_id": f"{arm}-{preset}", "arm": arm, "preset": preset, "budget": "tpp=8", "seed": 0,
                "params": n, "params_total": 2 * n, "tokens": 8 * n, "flops": 48.0 * n * n, "flops_full": full,
                "flops_total": None, "init_flops": None, "init_run": init_run, "speech_token_share": 0.5,
                "sblimp": sblimp, "swuggy": None, "ssc": None, "tsc": None, "sstorycloze_t2s": t2s}

    done = [row("speech", "a", 100, 1.00e6, 0.52), row("speech", "b", 1000, 1.00e8, 0.55),
            row("text", "a", 100, 4.0e5, 0.6),
            row("il", "a", 100, 1.015e6, 0.58, init_run="text-a", t2s=0.6),  # 1.5% off: equal compute
            row("il", "b", 1000, 1.5e8, 0.53)]  # 50% more than its nearest textless run: not equal
    arms = {"speech": {"downstream": {"sblimp": {"k": 0.4, "gamma": 0.02}}}}
    [comp] = compare_interleaved(spec, done, arms, "flops_full")
    assert (comp["arm"], comp["textless_arm"], comp["n_pairs"], comp["compute"]) == ("il", "speech", 1, "flops_full")
    pairs = {p["preset"]: p for p in comp["pairs"]}
    a, b = pairs["a"], pairs["b"]
    assert a["matched"] and a["compute_ratio"] == pytest.approx(1.015) and a["textless_run_id"] == "speech-a"
    assert a["delta"]["sblimp"] == pytest.approx(0.06) and a["mixed"]["sstorycloze_t2s"] == 0.6
    assert a["flops_full_total"] == pytest.approx(1.015e6 + 4.0e5)  # + the text LM's full compute
    assert a["textless_law_at_total"]["sblimp"] == pytest.approx(0.4 * (1.415e6) ** 0.02)
    assert not b["matched"] and b["textless_run_id"] is None and b["nearest_textless_run_id"] == "speech-b"
    assert b["compute_ratio"] == pytest.approx(1.5) and b["delta"]["sblimp"] is None
    assert comp["summary"]["sblimp"]["n_pairs"] == 1


def test_public_drops_in_memory_extras_and_non_finite_numbers():
    doc = public({"a": float("nan"), "_curves": {"x": 1}, "b": [1.0, float("inf")], "c": {"_s": 1, "d": 2}})
    assert doc == {"a": None, "b": [1.0, None], "c": {"d": 2}}


def test_study_holds_no_fitting_or_figure_code():
    """Every number comes from slmscale.scaling and every figure from its figure modules."""
    study = Path(__file__).resolve().parents[2] / "src" / "slmscale" / "study"
    banned = re.compile(r"\b(import|from) (matplotlib|scipy|numpy)\b|\b(plt|np)\.|"
                        r"\b(polyfit|lstsq|curve_fit|linregress|minimize|corrcoef|percentile)\(")
    hits = [f"{p.name}:{i}: {line.strip()}" for p in sorted(study.glob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1) if banned.search(line)]
    assert hits == []
    # and no published coefficient typed into the study (they ship in scaling/published)
    for p in study.glob("report*.py"):
        assert not re.search(r"\b(1\.73|13\.9|39\.8|406\.4|0\.066|0\.021)\b", p.read_text()), p.name
