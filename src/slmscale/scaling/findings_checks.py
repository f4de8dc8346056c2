"""The checks behind `scaling.findings`: the record type, the study context (cleaned table, roles,
cached envelope laws) and the single-arm findings C&M 1-4; rules in `findings.py`."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from slmscale.scaling import compare, downstream, envelope, fitfile
from slmscale.scaling import findings_stats as fs

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not tested")
METRICS = ("swuggy", "sblimp", "ssc", "tsc")
SEMANTIC = ("ssc", "tsc")
MIN_POINTS = 3
DECADE = 10.0
R2_MIN = 0.9
R2_BAD = 0.5
R_MIN = 0.8
CLAIMS = {
    "C&M 1": "the loss envelope follows a power law in compute (Fig. 1)",
    "C&M 2": "downstream metrics follow Q ∝ C^γ before saturating (Fig. 2)",
    "C&M 3": "speech scales more slowly than text (up to three orders of magnitude)",
    "C&M 4": "downstream metrics correlate linearly with held-out loss before saturation (Fig. 4)",
    "C&M 5": "story-like synthetic data helps semantic metrics at equal compute (Fig. 3)",
    "C&M 6": "unigram units scale better in loss but not downstream (Fig. 5)",
    "SIMS 1": "interleaved models initialised from a text LM beat textless ones at equal compute, "
              "and the gap grows with compute",
    "SIMS 2": "for interleaved models the compute-optimal allocation favours model size more than "
              "for textless ones",
}


@dataclass
class Finding:
    id: str
    statistic: str
    metric: str | None = None
    arms: list[str] = field(default_factory=list)
    value: float | None = None
    ci: list[float] | None = None
    paper: float | None = None
    paper_note: str = ""
    verdict: str = "inconclusive"
    reason: str = ""
    n_points: int = 0
    details: dict = field(default_factory=dict)

    @property
    def claim(self) -> str:
        return CLAIMS[self.id]

    def to_dict(self) -> dict:
        return {"claim": self.claim, **asdict(self)}


class _Stop(Exception):
    """A gate decided the verdict before any statistic was computed."""

    def __init__(self, verdict: str, reason: str):
        super().__init__(reason)
        self.verdict, self.reason = verdict, reason


def _published(name: str) -> dict:
    return fitfile.load(fitfile.PUBLISHED_DIR / f"{name}.yaml")


def _decide(f: Finding, null: float, claim_above: bool, failed: int, n_boot: int) -> None:
    """Verdict from the interval against the null value (see the module docstring)."""
    if n_boot and failed > n_boot / 2:
        f.verdict, f.reason = "inconclusive", f"{failed} of {n_boot} bootstrap refits failed"
        return
    if f.ci is None:
        f.verdict = "inconclusive"
        f.reason = "no bootstrap interval (" + ("every refit failed)" if n_boot else "bootstrap disabled)")
        return
    lo, hi = f.ci
    if lo > null or hi < null:
        good = (lo > null) == claim_above
        f.verdict = "reproduced" if good else "contradicted"
        side = "above" if lo > null else "below"
        f.reason = f"interval [{lo:.3g}, {hi:.3g}] lies {side} {null:g}"
    else:
        f.verdict, f.reason = "inconclusive", f"interval too wide: [{lo:.3g}, {hi:.3g}] includes {null:g}"


class _Study:
    """The cleaned table, the role -> arm mapping and the bootstrap settings, with cached laws."""

    def __init__(self, df, roles, kinds, baselines, n_boot, seed, level, huber_delta):
        self.df = fs.clean_table(df, METRICS)
        if kinds is None and "kind" in self.df.columns:  # the study's results table names each arm's kind
            kinds = dict(zip(self.df["arm"], self.df["kind"].astype(str)))
        self.roles = fs.resolve_roles(sorted(self.df["arm"].unique()), roles, kinds)
        self.baselines, self.n_boot, self.seed, self.level = baselines, n_boot, seed, level
        self.huber_delta = huber_delta
        # Benchmarks scored on at least one run (a column left empty by every arm is not a finding).
        self.metrics = [m for m in METRICS if m in self.df.columns and self.df[m].notna().any()]
        self._laws: dict = {}

    def seed_of(self, role: str, salt: int = 0) -> int:
        return self.seed + 1000 * fs.ROLES.index(role) + salt

    def arm(self, role: str, column: str | None = None, single_epoch: bool = False) -> pd.DataFrame:
        """Finished runs of the role's arm with `column` scored; raises _Stop when there are none."""
        name = self.roles.get(role)
        if name is None:
            raise _Stop("not tested", f"needs {fs.ROLE_HINT[role]}")
        sub = self.df[self.df["arm"] == name]
        if sub.empty:
            raise _Stop("not tested", f"arm {name!r} has no finished runs")
        if column is not None:
            if column not in sub.columns or sub[column].isna().all():
                what = "held-out loss" if column == "loss" else f"{column!r} scores"
                raise _Stop("not tested", f"arm {name!r} has no {what}")
            sub = sub[sub[column].notna() & (sub[column] > 0)]
        if single_epoch and "epochs" in sub.columns:
            sub = sub[~(sub["epochs"] > 1 + 1e-9)]
            if sub.empty:
                raise _Stop("inconclusive", f"arm {name!r} has only multi-epoch runs; the loss "
                                            "findings use single-epoch runs")
        return sub.reset_index(drop=True)

    def envelope_law(self, role: str, column: str) -> dict:
        """Power law of the arm's envelope (best metric, or least loss, per FLOP) with bootstrap
        samples of its exponent; gates: 3+ envelope points over a decade, metric above its floor."""
        key = (role, column)
        if key in self._laws:
            if isinstance(self._laws[key], _Stop):
                raise self._laws[key]
            return self._laws[key]
        try:
            self._laws[key] = self._fit_envelope(role, column)
        except _Stop as stop:
            self._laws[key] = stop
            raise
        return self._laws[key]

    def _fit_envelope(self, role: str, column: str) -> dict:
        is_loss = column == "loss"
        sub = self.arm(role, column, single_epoch=is_loss)
        name = self.roles[role]
        C, Q = sub["flops"].to_numpy(), sub[column].to_numpy()
        if not is_loss:
            why = fs.at_floor(float(Q.max()), column, self.baselines)
            if why:
                raise _Stop("inconclusive", f"{name}: {why}")
        env = envelope.frontier(C, Q, maximize=not is_loss)
        if len(env) < MIN_POINTS:
            raise _Stop("inconclusive", f"too few points: arm {name!r} has {len(env)} envelope point(s) "
                                        f"on {column}; need {MIN_POINTS}")
        span = float(C.max() / C.min())
        if span < DECADE:
            raise _Stop("inconclusive", f"too few points: arm {name!r} spans {span:.1f}x in compute; "
                                        f"need {DECADE:g}x (a decade)")
        law = envelope.loglog_fit(C[env], Q[env])

        def refit(idx):
            i = idx["a"]
            e = envelope.frontier(C[i], Q[i], maximize=not is_loss)
            return {"gamma": envelope.loglog_fit(C[i][e], Q[i][e])["exponent"]}

        samples, failed = fs.stratified_bootstrap({"a": len(C)}, refit, self.n_boot,
                                                  self.seed_of(role, zlib.crc32(column.encode()) % 997))
        return {"gamma": law["exponent"], "r2": law["r2"], "n_env": int(len(env)), "span": span,
                "samples": samples.get("gamma", np.array([])), "failed": failed, "n": int(len(C)),
                "C": C[env], "Q": Q[env]}


def _guard(f: Finding, fn) -> Finding:
    try:
        fn(f)
    except _Stop as stop:
        f.verdict, f.reason = stop.verdict, stop.reason
    return f


def _paper_in_ci(f: Finding) -> None:
    if f.paper is not None and f.ci is not None:
        f.details["paper_in_ci"] = bool(f.ci[0] <= f.paper <= f.ci[1])


# --- C&M 1, 2, 3, 4 ------------------------------------------------------------------------------

def _cm1(st: _Study) -> list[Finding]:
    p = _published("speech_units_cm2024")
    f = Finding("C&M 1", "loss-envelope exponent γ (L ∝ C^γ)",
                paper_note=f"a power law (Fig. 1); the published speech law's compute-optimal reducible "
                           f"loss falls as C^-{p['alpha'] * p['beta'] / (p['alpha'] + p['beta']):.3f}")

    def run(f):
        f.arms = [st.roles.get("speech", "speech")]
        sub = st.arm("speech", "loss", single_epoch=True)
        C, n_env = sub["flops"].to_numpy(), len(envelope.frontier(sub["flops"], sub["loss"]))
        if len(C) >= 2 * MIN_POINTS and C.max() >= DECADE * C.min() and n_env < MIN_POINTS:
            raise _Stop("contradicted", f"loss does not fall with compute: {n_env} envelope point(s) "
                                        f"from {len(C)} runs over {C.max() / C.min():.0f}x")
        law = st.envelope_law("speech", "loss")
        f.value, f.n_points = law["gamma"], law["n_env"]
        f.ci = fs.interval(law["samples"], st.level)
        f.details = {"r2": law["r2"], "compute_span": law["span"], "single_epoch_only": True}
        _decide(f, 0.0, False, law["failed"], st.n_boot)
        if f.verdict == "reproduced" and law["r2"] < R2_BAD:
            f.verdict, f.reason = "contradicted", f"envelope R² {law['r2']:.2f} < {R2_BAD}: not a power law"
        elif f.verdict == "reproduced" and law["r2"] < R2_MIN:
            f.verdict = "inconclusive"
            f.reason = f"envelope R² {law['r2']:.2f} < {R2_MIN}: not a clean power law"
    return [_guard(f, run)]


def _cm2(st: _Study) -> list[Finding]:
    out = []
    for m in st.metrics:
        paper = _downstream_paper(m)
        f = Finding("C&M 2", f"γ of the {m} envelope (Q ∝ C^γ)", metric=m,
                    paper=paper.get("speech"), paper_note="speech γ, envelope of best metric per FLOP")

        def run(f, m=m):
            f.arms = [st.roles.get("speech", "speech")]
            law = st.envelope_law("speech", m)
            f.value, f.n_points = law["gamma"], law["n_env"]
            f.ci = fs.interval(law["samples"], st.level)
            forms = downstream.compare_forms(law["C"], law["Q"])
            f.details = {"r2": law["r2"], "preferred_form": forms["preferred"],
                         "compute_span": law["span"]}
            _decide(f, 0.0, True, law["failed"], st.n_boot)
            _paper_in_ci(f)
        out.append(_guard(f, run))
    return out


def _downstream_paper(metric: str) -> dict:
    path = fitfile.PUBLISHED_DIR / f"downstream_{metric}_cm2024.yaml"
    if not path.is_file():
        return {}
    return {arm: v["gamma"] for arm, v in fitfile.load(path)["arms"].items()}


def _exponent_ratio(st: _Study, fast: str, slow: str, column: str, magnitude: bool = False):
    """(ratio, interval, both laws) of two arms' envelope exponents (|γ| with `magnitude`)."""
    la, lb = st.envelope_law(fast, column), st.envelope_law(slow, column)
    sign = -1.0 if magnitude else 1.0
    value = fs.ratio(sign * la["gamma"], sign * lb["gamma"])
    ci, undirected = fs.ratio_interval(sign * la["samples"], sign * lb["samples"], st.level)
    return value, ci, la, lb, undirected


def _cm3(st: _Study) -> list[Finding]:
    out = []
    for m in st.metrics:
        paper = _downstream_paper(m)
        pr = paper["text"] / paper["speech"] if {"text", "speech"} <= paper.keys() else None
        f = Finding("C&M 3", f"γ_text / γ_speech on {m}", metric=m, paper=pr,
                    paper_note=(f"compute factor 10^{pr:.2f} = {10 ** pr:.0f}x per 10x of text compute"
                                if pr else "no published exponents for this metric"))

        def run(f, m=m):
            f.arms = [st.roles.get("text", "text"), st.roles.get("speech", "speech")]
            st.arm("text", m), st.arm("speech", m)  # not tested before inconclusive
            f.value, f.ci, lt, ls, undirected = _exponent_ratio(st, "text", "speech", m)
            f.n_points = min(lt["n_env"], ls["n_env"])
            f.details = {"gamma_text": lt["gamma"], "gamma_speech": ls["gamma"],
                         "compute_factor_10x": 10 ** f.value if np.isfinite(f.value) else None,
                         "compute_factor_10x_ci": [10 ** v for v in f.ci] if f.ci else None,
                         "undirected_samples": undirected}
            if lt["gamma"] > 0 and ls["gamma"] > 0:
                f.details["statement"] = compare.compare(lt["gamma"], ls["gamma"], "text",
                                                         "speech")["exact_statement"]
            _decide(f, 1.0, True, max(lt["failed"], ls["failed"]), st.n_boot)
            _paper_in_ci(f)
        out.append(_guard(f, run))
    return out


def _cm4(st: _Study) -> list[Finding]:
    out = []
    for m in st.metrics:
        f = Finding("C&M 4", f"Pearson r of {m} vs held-out loss (runs above the floor)", metric=m,
                    paper_note="linear, strongly negative before saturation (Fig. 4)")

        def run(f, m=m):
            f.arms = [st.roles.get("speech", "speech")]
            sub = st.arm("speech", m)
            sub = sub[sub["loss"].notna()] if "loss" in sub.columns else sub.iloc[:0]
            if sub.empty:
                raise _Stop("not tested", f"arm {f.arms[0]!r} has no held-out loss")
            level, half, _ = fs.floor_of(m, st.baselines)
            why = fs.at_floor(float(sub[m].max()), m, st.baselines)
            if why:
                raise _Stop("inconclusive", f"{f.arms[0]}: {why}")
            L, Q = sub["loss"].to_numpy(), sub[m].to_numpy()
            try:
                fit = downstream.fit_vs_loss(L, Q, chance=level, margin=half)
            except ValueError as err:
                raise _Stop("inconclusive", f"too few points: {err}") from None
            f.value, f.n_points = fit["pearson_r"], fit["n_used"]
            samples, failed = fs.stratified_bootstrap(
                {"a": len(L)}, lambda idx: {"r": downstream.fit_vs_loss(
                    L[idx["a"]], Q[idx["a"]], chance=level, margin=half)["pearson_r"]},
                st.n_boot, st.seed_of("speech", 7))
            f.ci = fs.interval(samples.get("r"), st.level)
            f.details = {"slope": fit["slope"], "r2": fit["r2"], "n_excluded": fit["n_excluded"]}
            _decide(f, 0.0, False, failed, st.n_boot)
            if f.verdict == "reproduced" and f.value > -R_MIN:
                f.verdict, f.reason = "inconclusive", f"weak linear relation: r = {f.value:.2f} > -{R_MIN}"
        out.append(_guard(f, run))
    return out

