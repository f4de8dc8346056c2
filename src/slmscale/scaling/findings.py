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
NO_METRICS = "no benchmark columns (swuggy, sblimp, ssc, tsc) in the results table: evaluate the runs"

__all__ = ["CLAIMS", "VERDICTS", "Finding", "assess", "summarize", "findings_to_json", "write_findings"]


def assess(df: pd.DataFrame, roles: dict[str, str] | None = None, kinds: dict[str, str] | None = None,
           baselines: dict[str, Any] | None = None, n_boot: int = 200, seed: int = 0,
           level: float = 0.95, huber_delta: float = 0.03, hint: str | None = None) -> list[Finding]:
    """Every finding's records for a results table.

    roles      role -> arm name (roles: speech, text, unigram, interleaved, no_story); missing roles
               come from `kinds` (arm name -> spec kind: units, text, unigram, interleaved; default:
               the table's `kind` column), then from arm names (speech/units/textless, text, unigram,
               interleaved, no_story/nostory);
    baselines  metric column -> strongest surface-baseline accuracy, as a number or a mapping with
               `accuracy` and optionally `ci` [lo, hi] or `n` (items), e.g. from `slmscale bench audit`;
    hint       appended to every "not tested" reason (e.g. "run `slmscale demo --preset small`").
    The first arm of each role is used. Records come in the order of `CLAIMS`.
    """
    study = _Study(df, roles, kinds, baselines, n_boot, seed, level, huber_delta)
    records = [rec for check in CHECKS for rec in check(study)]
    if not study.metrics:
        records += [Finding(fid, "downstream metrics", verdict="not tested", reason=NO_METRICS)
                    for fid in METRIC_FINDINGS]
    order = list(CLAIMS)
    records.sort(key=lambda r: order.index(r.id))
    if hint:
        for r in records:
            if r.verdict == "not tested":
                r.reason = f"{r.reason} ({hint})"
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
