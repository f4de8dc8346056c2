"""Findings that compare two arms (C&M 5, C&M 6, SIMS 1, SIMS 2); rules in `findings.py`."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from slmscale.errors import UserError
from slmscale.scaling import bootstrap as boot
from slmscale.scaling import chinchilla, isoflop, loss
from slmscale.scaling import findings_stats as fs
from slmscale.scaling.findings_checks import (DECADE, MIN_POINTS, SEMANTIC, Finding, _decide,
                                              _exponent_ratio, _guard, _published, _Stop, _Study)


def _compute_column(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """Equal compute means equal full FLOPs when both arms report them (DESIGN), else 6ND."""
    full = [d["flops_full"] for d in (a, b) if "flops_full" in d.columns]
    return "flops_full" if len(full) == 2 and all(s.notna().all() and (s > 0).all() for s in full) \
        else "flops"


def _gap(st: _Study, treat: str, base: str, m: str) -> dict:
    """Envelope gap treat - base at equal compute, with bootstrap samples of its mean and slope."""
    a, b = st.arm(treat, m), st.arm(base, m)
    na, nb = st.roles[treat], st.roles[base]
    floors = [fs.at_floor(float(d[m].max()), m, st.baselines) for d in (a, b)]
    if all(floors):
        raise _Stop("inconclusive", f"both arms at the floor: {na}: {floors[0]}")
    col = _compute_column(a, b)
    ca, qa, cb, qb = (d[c].to_numpy() for d, c in ((a, col), (a, m), (b, col), (b, m)))
    try:
        c, gap = fs.envelope_gap(ca, qa, cb, qb)
    except ValueError:
        raise _Stop("inconclusive", f"too few points: arms {na!r} and {nb!r} share no compute "
                                    f"range (equal {col})") from None
    if len(c) < 2:
        raise _Stop("inconclusive", f"too few points: 1 envelope point of {na!r} inside {nb!r}'s "
                                    "compute range; need 2")

    def refit(idx):
        i, j = idx["a"], idx["b"]
        stats = fs.gap_stats(*fs.envelope_gap(ca[i], qa[i], cb[j], qb[j]))
        return {"mean_gap": stats["mean_gap"], "slope": stats.get("slope", np.nan)}

    samples, failed = fs.stratified_bootstrap({"a": len(ca), "b": len(cb)}, refit, st.n_boot,
                                              st.seed_of(treat, zlib.crc32(m.encode()) % 997))
    out = {"c": c, "gap": gap, "stats": fs.gap_stats(c, gap), "samples": samples, "failed": failed,
           "column": col, "a": a, "b": b, "details": {"compute": col}}
    if col == "flops_full":  # at CPU scale embeddings weigh a lot: also give the papers' 6ND view
        try:
            _, g6 = fs.envelope_gap(a["flops"].to_numpy(), qa, b["flops"].to_numpy(), qb)
            out["details"]["mean_gap_at_equal_6nd"] = float(np.mean(g6))
        except ValueError:
            out["details"]["mean_gap_at_equal_6nd"] = None
    return out


def _cm5(st: _Study) -> list[Finding]:
    out = []
    for m in SEMANTIC:  # both semantic rows always: the finding is about them
        f = Finding("C&M 5", f"{m}: story arm − no-story arm at equal compute (mean envelope gap)",
                    metric=m, paper_note="positive: sTinyStories helps semantics (Fig. 3)")

        def run(f, m=m):
            f.arms = [st.roles.get("speech", "speech"), st.roles.get("no_story", "no_story")]
            st.arm("no_story")
            if m not in st.metrics:
                raise _Stop("not tested", f"no run has {m!r} scores (add the StoryCloze tasks to "
                                          "both arms)")
            g = _gap(st, "speech", "no_story", m)
            f.value, f.n_points = g["stats"]["mean_gap"], len(g["c"])
            f.ci = fs.interval(g["samples"].get("mean_gap"), st.level)
            f.details = g["details"]
            _decide(f, 0.0, True, g["failed"], st.n_boot)
        out.append(_guard(f, run))
    return out


def _cm6(st: _Study) -> list[Finding]:
    f = Finding("C&M 6", "|γ| of the unigram loss envelope / the speech arm's",
                paper_note="unigram better in loss (Fig. 5); per-token losses of two tokenizations "
                           "differ in level, so exponents are compared")

    def run_loss(f):
        f.arms = [st.roles.get("unigram", "unigram"), st.roles.get("speech", "speech")]
        st.arm("unigram", "loss"), st.arm("speech", "loss")
        f.value, f.ci, lu, ls, _ = _exponent_ratio(st, "unigram", "speech", "loss", magnitude=True)
        f.n_points = min(lu["n_env"], ls["n_env"])
        f.details = {"gamma_unigram": lu["gamma"], "gamma_speech": ls["gamma"], "single_epoch_only": True}
        _decide(f, 1.0, True, max(lu["failed"], ls["failed"]), st.n_boot)

    out = [_guard(f, run_loss)]
    for m in st.metrics:
        g = Finding("C&M 6", f"γ_unigram / γ_speech on {m}", metric=m,
                    paper_note="not better downstream: the ratio should be below 1 (Fig. 5)")

        def run(g, m=m):
            g.arms = [st.roles.get("unigram", "unigram"), st.roles.get("speech", "speech")]
            st.arm("unigram", m), st.arm("speech", m)
            g.value, g.ci, lu, ls, _ = _exponent_ratio(st, "unigram", "speech", m)
            g.n_points = min(lu["n_env"], ls["n_env"])
            g.details = {"gamma_unigram": lu["gamma"], "gamma_speech": ls["gamma"]}
            _decide(g, 1.0, False, max(lu["failed"], ls["failed"]), st.n_boot)
        out.append(_guard(g, run))
    return out


def _sims1(st: _Study) -> list[Finding]:
    out = []
    for m in st.metrics:
        f = Finding("SIMS 1", f"{m}: interleaved − textless at equal training compute (mean gap)",
                    metric=m, paper_note="positive (SIMS)")
        g_rec = Finding("SIMS 1", f"{m}: growth of that gap per decade of compute", metric=m,
                        paper_note="positive: the gap grows with compute (SIMS)")
        try:
            f.arms = g_rec.arms = [st.roles.get("interleaved", "interleaved"),
                                   st.roles.get("speech", "speech")]
            g = _gap(st, "interleaved", "speech", m)
        except _Stop as stop:  # one row stands for both statistics
            f.statistic += " and its growth with compute"
            f.verdict, f.reason = stop.verdict, stop.reason
            out.append(f)
            continue
        f.value, f.n_points = g["stats"]["mean_gap"], len(g["c"])
        f.ci = fs.interval(g["samples"].get("mean_gap"), st.level)
        f.details = {**g["details"], "text_pretraining": "not counted (as in SIMS)"}
        a = g["a"]
        if "flops_total" in a.columns and a["flops_total"].notna().all():
            try:
                _, tot = fs.envelope_gap(a["flops_total"].to_numpy(), a[m].to_numpy(),
                                         g["b"]["flops"].to_numpy(), g["b"][m].to_numpy())
                f.details["mean_gap_counting_text_pretraining"] = float(np.mean(tot))
            except ValueError:
                f.details["mean_gap_counting_text_pretraining"] = None
        _decide(f, 0.0, True, g["failed"], st.n_boot)
        out.append(f)
        g_rec.n_points = len(g["c"])
        span = float(g["c"].max() / g["c"].min())
        if len(g["c"]) < MIN_POINTS or span < DECADE:
            g_rec.verdict = "inconclusive"
            g_rec.reason = (f"too few points: {len(g['c'])} comparison point(s) spanning {span:.1f}x; "
                            f"need {MIN_POINTS} over {DECADE:g}x")
        else:
            g_rec.value = g["stats"]["slope"]
            g_rec.ci = fs.interval(g["samples"].get("slope"), st.level)
            _decide(g_rec, 0.0, True, g["failed"], st.n_boot)
        out.append(g_rec)
    return out


def _allocation_exponent(st: _Study, role: str, method: str) -> dict:
    """a (N_opt ∝ C^a) of one arm with bootstrap samples; degenerate Chinchilla fits stop here."""
    sub = st.arm(role, "loss", single_epoch=True)
    name = st.roles[role]
    if method == "isoflop":
        fit = isoflop.fit(sub)
        samples, failed = fs.stratified_bootstrap(
            {"a": len(sub)}, lambda idx: {"a": isoflop.fit(sub.iloc[idx["a"]])["a"]}, st.n_boot,
            st.seed_of(role, 11))
        return {"a": fit["a"], "samples": samples.get("a", np.array([])), "failed": failed,
                "n": len(sub)}
    if len(sub) < chinchilla.MIN_POINTS:
        raise _Stop("inconclusive", f"too few points: arm {name!r} has {len(sub)} single-epoch run(s); "
                                    f"the Chinchilla fit needs {chinchilla.MIN_POINTS}")
    try:
        fit = chinchilla.fit(sub, delta=st.huber_delta)
    except UserError as err:
        raise _Stop("inconclusive", f"too few points: {err}") from None
    N, D, L = (sub[c].to_numpy() for c in ("params", "tokens", "loss"))
    rows = boot.loss_samples(fit, N, D, L, st.n_boot, st.seed_of(role, 13), show_progress=False)
    ok = np.all(np.isfinite(rows), axis=1)
    record = {**fit.to_dict(), "ci": boot.loss_ci(rows[ok], st.level), "ci_level": st.level}
    warnings = loss.fit_warnings(record, N, D, L)
    if warnings:
        raise _Stop("inconclusive", f"degenerate fit for arm {name!r}: {warnings[0]}")
    alpha, beta = rows[ok, 3], rows[ok, 4]
    return {"a": record["a"], "samples": beta / (alpha + beta), "failed": int((~ok).sum()),
            "n": len(sub)}


def _isoflop_ok(st: _Study, role: str) -> bool:
    try:
        fit = isoflop.fit(st.arm(role, "loss", single_epoch=True))
    except UserError:
        return False
    return all(b["inside"] for b in fit["budgets"])


def _sims2(st: _Study) -> list[Finding]:
    pub = _published("speech_units_cm2024")
    f = Finding("SIMS 2", "a_interleaved − a_textless (N_opt ∝ C^a)",
                paper_note=f"positive (SIMS); C&M's textless fit gives a = {pub['a']:.2f}")

    def run(f):
        f.arms = [st.roles.get("interleaved", "interleaved"), st.roles.get("speech", "speech")]
        roles = ("interleaved", "speech")
        try:
            method = "chinchilla"
            ai, as_ = (_allocation_exponent(st, r, method) for r in roles)
        except _Stop as stop:
            # The IsoFLOP optima stand in only when every profile has its minimum inside the sizes.
            if stop.verdict == "not tested" or not all(_isoflop_ok(st, r) for r in roles):
                raise
            method = "isoflop"
            ai, as_ = (_allocation_exponent(st, r, method) for r in roles)
            f.details["chinchilla"] = stop.reason
        f.value, f.n_points = ai["a"] - as_["a"], min(ai["n"], as_["n"])
        m = min(len(ai["samples"]), len(as_["samples"]))
        f.ci = fs.interval(ai["samples"][:m] - as_["samples"][:m], st.level)
        f.details.update({"method": method, "a_interleaved": ai["a"], "a_textless": as_["a"],
                          "single_epoch_only": True})
        _decide(f, 0.0, True, max(ai["failed"], as_["failed"]), st.n_boot)
    return [_guard(f, run)]

