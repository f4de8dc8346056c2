"""The papers' findings, tested on a results table: one record per (finding, statistic, metric).

Every record carries the statistic, our value, its 95% bootstrap interval (runs resampled with
replacement within each arm, seeded, so the same table and seed give the same numbers), the paper's
value where the papers give one (read from `scaling/published/*.yaml`), a verdict and its reason.

Verdicts: "reproduced", "contradicted", "inconclusive", "not tested". Checks run in this order and
the first that applies decides:
  not tested    the arm that would test the finding is missing (the reason names it), or it has no
                scores on that metric;
  inconclusive  too few points (fewer than 3 envelope points or comparison points), a ladder spanning
                less than a decade of compute, a metric at its surface baseline (best score within the
                baseline's interval of max(chance, strongest surface baseline): `findings_stats.floor_of`),
                a degenerate loss fit (`loss.fit_warnings`), more than half of the bootstrap refits
                failing, or an interval that includes the null value ("interval too wide");
  reproduced / contradicted   the interval lies entirely on the claim's side of the null value, or
                entirely on the other side.
A fit that the caller found degenerate (`degenerate`: e.g. a study's fits.json `degenerate` list)
never makes a finding "reproduced": a record resting on it becomes inconclusive (`veto_degenerate`).

The findings, their statistic and null value (the claim's direction in brackets):
  C&M 1  speech arm: exponent gamma of the loss envelope L = k C^gamma (frontier of least loss per
         FLOP, single-epoch runs). Reproduced when the interval is below 0 and the envelope's log-log
         R^2 >= 0.9; contradicted when R^2 < 0.5, or when 6+ runs over a decade of compute leave
         fewer than 3 envelope points (the loss does not fall with compute; the envelope is
         monotone by construction, so its exponent alone cannot contradict).
  C&M 2  speech arm, each metric: exponent gamma of the metric envelope Q = k C^gamma [> 0]; the
         preferred form (power law vs saturating, AICc) is reported alongside.
  C&M 3  each metric: gamma_text / gamma_speech [> 1]; also the implied compute factor 10^ratio
         (what 10x of text compute buys costs 10^ratio x in speech; the paper: up to ~10^3).
  C&M 4  speech arm, each metric: Pearson r of metric vs held-out loss on runs above the floor
         [< 0]; reproduced only when also r <= -0.8 (a strong linear relation).
  C&M 5  ssc, tsc: story arm's envelope minus the no-story arm's at equal compute, mean over the
         story arm's envelope points inside the no-story arm's compute range [> 0].
  C&M 6  (loss) |gamma| of the unigram arm's loss envelope / the speech arm's [> 1];
         (metric) gamma_unigram / gamma_speech per metric, claim "not better downstream" [< 1].
  SIMS 1 each metric: interleaved envelope minus speech envelope at equal training compute [> 0],
         and the gap's slope per decade of compute [> 0] (3+ points spanning a decade).
  SIMS 2 a_interleaved - a_speech [> 0], a = beta/(alpha+beta) from the Chinchilla fit (single-epoch
         runs), or the IsoFLOP optima's N_opt exponent when both arms have 2+ IsoFLOP budgets.
Equal compute for arm comparisons means equal `flops_full` when both arms report it (DESIGN:
embeddings, head and attention counted), else equal `flops` (6ND); the text LM's pre-training of an
interleaved arm is not counted, as in SIMS, and the record says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from slmscale import __version__
from slmscale.artifacts import write_json
from slmscale.scaling.findings_arms import _cm5, _cm6, _sims1, _sims2
from slmscale.scaling.findings_checks import CLAIMS, VERDICTS, Finding, _cm1, _cm2, _cm3, _cm4, _Study

CHECKS = (_cm1, _cm2, _cm3, _cm4, _cm5, _cm6, _sims1, _sims2)
METRIC_FINDINGS = ("C&M 2", "C&M 3", "C&M 4", "C&M 6", "SIMS 1")
# The fitted law each finding's statistic rests on, per arm: the metric-vs-compute law of its metric,
# or the loss law L(N, D). (C&M 1, C&M 4, C&M 5, SIMS 1 and C&M 6's loss row use envelopes and
# correlations, which the fits' degeneracy warnings do not cover.)
RESTS_ON = {"C&M 2": "metric", "C&M 3": "metric", "C&M 6": "metric", "SIMS 2": "loss"}
NO_METRICS = "no benchmark columns (swuggy, sblimp, ssc, tsc) in the results table: evaluate the runs"

__all__ = ["CLAIMS", "VERDICTS", "Finding", "assess", "summarize", "veto_degenerate", "findings_to_json",
           "write_findings"]


def assess(df: pd.DataFrame, roles: dict[str, str] | None = None, kinds: dict[str, str] | None = None,
           baselines: dict[str, Any] | None = None, n_boot: int = 200, seed: int = 0,
           level: float = 0.95, huber_delta: float = 0.03, hint: str | None = None,
           degenerate: list[dict[str, Any]] | None = None) -> list[Finding]:
    """Every finding's records for a results table.

    roles      role -> arm name (roles: speech, text, unigram, interleaved, no_story); missing roles
               come from `kinds` (arm name -> spec kind: units, text, unigram, interleaved; default:
               the table's `kind` column), then from arm names (speech/units/textless, text, unigram,
               interleaved, no_story/nostory);
    baselines  metric column -> strongest surface-baseline accuracy, as a number or a mapping with
               `accuracy` and optionally `ci` [lo, hi] or `n` (items), e.g. from `slmscale bench audit`;
    hint       appended to every "not tested" reason (e.g. "run `slmscale demo --preset small`");
    degenerate fits known to be degenerate (see `veto_degenerate`).
    The first arm of each role is used. Records come in the order of `CLAIMS`.
    """
    study = _Study(df, roles, kinds, baselines, n_boot, seed, level, huber_delta)
    records = [rec for check in CHECKS for rec in check(study)]
    if not study.metrics:
        records += [Finding(fid, "downstream metrics", verdict="not tested", reason=NO_METRICS)
                    for fid in METRIC_FINDINGS]
    order = list(CLAIMS)
    records.sort(key=lambda r: order.index(r.id))
    veto_degenerate(records, degenerate or [])
    if hint:
        for r in records:
            if r.verdict == "not tested":
                r.reason = f"{r.reason} ({hint})"
    return records


def veto_degenerate(records: list[Finding], degenerate: list[dict[str, Any]]) -> list[Finding]:
    """A degenerate fit never drives a "reproduced" verdict. `degenerate` lists fits that tripped
    their own warnings: {"arm", "metric" (None for the loss law L(N, D)), "fit", "warnings"}, as in
    a study's fits.json. A reproduced record that rests on one of them (an arm it compares, the
    law in `RESTS_ON`) becomes inconclusive, its reason naming the fit; it is changed in place."""
    for r in records:
        rests = RESTS_ON.get(r.id)
        if r.verdict != "reproduced" or rests is None or (rests == "metric" and r.metric is None):
            continue
        want = r.metric if rests == "metric" else None
        hit = next((d for d in degenerate if d.get("arm") in r.arms and d.get("metric") == want), None)
        if hit is not None:
            why = "; ".join(hit.get("warnings") or []) or "degenerate"
            r.details["was"] = {"verdict": r.verdict, "reason": r.reason}
            r.verdict = "inconclusive"
            r.reason = f"degenerate fit: arm {hit['arm']!r}, {hit.get('fit', rests)}: {why}"
    return records


def summarize(records: list[Finding]) -> list[dict[str, Any]]:
    """One headline verdict per finding from its rows: contradicted and reproduced rows together
    give "inconclusive" (they disagree); else any contradicted row -> contradicted; any reproduced
    row -> reproduced; only "not tested" rows -> not tested; otherwise inconclusive."""
    out = []
    for fid, claim in CLAIMS.items():
        rows = [r for r in records if r.id == fid]
        counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
        if counts["reproduced"] and counts["contradicted"]:
            verdict = "inconclusive"
        elif counts["contradicted"]:
            verdict = "contradicted"
        elif counts["reproduced"]:
            verdict = "reproduced"
        elif counts["not tested"] == len(rows):  # also a finding without rows: not assessed
            verdict = "not tested"
        else:
            verdict = "inconclusive"
        out.append({"id": fid, "claim": claim, "verdict": verdict, "counts": counts,
                    "reason": next((r.reason for r in rows if r.verdict == verdict), "not assessed")})
    return out


def _finite(v: Any) -> Any:
    """JSON has no inf/nan: they become null (an open interval end reads as unbounded)."""
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (list, dict)):
        return _finite(v.item())
    return v


def findings_to_json(records: list[Finding], **meta: Any) -> dict[str, Any]:
    """The findings document: version, meta (e.g. source, n_boot, seed), summary and records."""
    return _finite({"kind": "findings", "version": __version__, **meta,
                    "summary": summarize(records), "findings": [r.to_dict() for r in records]})


def write_findings(path: str | Path, records: list[Finding], **meta: Any) -> dict[str, Any]:
    """Write `findings.json` atomically (temp file in the same folder, fsync, rename)."""
    doc = findings_to_json(records, **meta)
    write_json(path, doc)
    return doc
