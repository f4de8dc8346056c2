"""`slmscale fit …` (loss, downstream, envelope, isoflop) and `slmscale plan`.

Thin: parse, validate, call `slmscale.scaling`, print a summary or JSON, write files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

fit_app = typer.Typer(help="Fit scaling laws to a results table (CSV/Parquet).", no_args_is_help=True)

_BOOT = typer.Option(0, "--bootstrap", min=0, help="Bootstrap refits for CIs (e.g. 1000); 0 = none.")
_SEED = typer.Option(0, "--seed", help="Seed of the bootstrap resampling.")
_JSON = typer.Option(False, "--json", help="Print the full fit record as JSON on stdout (intervals and bootstrap samples, as --out writes).")
_OUT = typer.Option(None, "--out", help="Write the full fit record (with bootstrap samples) to this JSON file.")
_PLOT = typer.Option(None, "--plot", help="Write figures (PNG and SVG) into this folder.")
_ARM = typer.Option(None, "--arm", help="Fit the runs of this arm (column 'arm'); required when the table has several.")


def _clean(obj):
    """JSON-safe copy: non-finite floats become null (strict JSON has no inf/nan)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _emit(record: dict, as_json: bool, out: Optional[Path], summary: str) -> None:
    from slmscale.artifacts import write_json

    record = _clean(record)
    if out is not None:
        write_json(out, record)
    if as_json:  # the same record as --out: a file saved from stdout plans with intervals too
        typer.echo(json.dumps(record, indent=2, sort_keys=True, allow_nan=False))
    else:
        typer.echo(summary)
        if out is not None:
            typer.echo(f"wrote {out}")


def _ci_text(record: dict, key: str) -> str:
    ci = record.get("ci", {}).get(key)
    return f" [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else ""


def _fmt_loss(r: dict) -> str:
    lines = [f"{r['form']} fit on {r['n_points']} runs (huber delta {r['huber_delta']:g})"]
    if r.get("excluded_repeated", {}).get("n"):
        lines.append(f"  left out: {r['excluded_repeated']['reason']}")
    for k in ("E", "A", "B", "alpha", "beta", "a", "b", "G", "r_star_n", "r_star_d"):
        if r.get(k) is not None:
            lines.append(f"  {k:8s} = {r[k]:.4g}{_ci_text(r, k)}")
    g = r["goodness"]
    lines.append(f"  fit: rmse(log L) {g['rmse_log']:.4f}, max |rel err| {g['max_abs_rel_err']:.4f}")
    ho = r["holdout"]
    lines.append(f"  hold-out of the largest budget: {ho['skipped']}" if "skipped" in ho else
                 f"  hold-out of the largest budget ({ho['n_heldout']} run(s) at {ho['heldout_flops']:.3g} "
                 f"FLOPs): mean |rel err| {ho['mean_abs_rel_err']:.4f}")
    lines.extend(f"  warning: {w}" for w in r.get("warnings", []))
    return "\n".join(lines)


def fit_loss(
    results: Path = typer.Argument(..., help="Results table: CSV or Parquet with params, tokens, loss."),
    form: str = typer.Option("chinchilla", "--form", help="chinchilla (single-epoch runs only) | data-constrained"),
    huber_delta: float = typer.Option(1e-3, "--huber-delta", help="Huber delta on log loss (1e-3 Chinchilla, 0.03 C&M)."),
    arm: Optional[str] = _ARM,
    bootstrap: int = _BOOT, seed: int = _SEED, as_json: bool = _JSON,
    out: Optional[Path] = _OUT, plot: Optional[Path] = _PLOT,
) -> None:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3) or its data-constrained form.

    The Chinchilla form leaves out runs over more than one epoch (it assumes unique data) and says so.
    """
    from slmscale.errors import UserError
    from slmscale.scaling import loss, table

    if form not in loss.FORMS:
        raise UserError(f"--form {form!r}: choose one of {', '.join(loss.FORMS)}")
    if not huber_delta > 0:
        raise UserError("--huber-delta must be positive (1e-3 or 0.03 are the papers' values)")
    extra = ("epochs",) if form == "data-constrained" and not _has_unique(results) else ()
    df = table.select_arm(table.load(results, "loss", min_points=6, extra=extra), arm)
    record = loss.analyze(df, form=form, delta=huber_delta, n_boot=bootstrap, seed=seed)
    if plot is not None:
        from slmscale.scaling import figures

        record["figures"] = [str(p) for p in figures.loss_figures(df, record, plot)]
    _emit(record, as_json, out, _fmt_loss(record))


def _has_unique(path: Path) -> bool:
    from slmscale.scaling import table

    return "unique_tokens" in table.read_table(path).columns


def fit_downstream(
    results: Path = typer.Argument(..., help="Results table with params, tokens and the metric column."),
    metric: str = typer.Option(..., "--metric", help="Metric column, e.g. sblimp, ssc, tsc."),
    arm_col: str = typer.Option("arm", "--arm-col", help="Column naming the arm (fits per arm; compared)."),
    chance: float = typer.Option(0.5, "--chance", help="Chance level of the metric (saturation cut-off)."),
    margin: float = typer.Option(0.02, "--margin", help="Runs within this of chance are left out of metric-vs-loss."),
    max_loss: Optional[float] = typer.Option(None, "--max-loss", help="Also leave out runs with loss above this."),
    compute: str = typer.Option("flops", "--compute", help="Compute column: flops (6ND, non-embedding N) or flops_full (embeddings, head, attention; arms compared at equal full FLOPs)."),
    bootstrap: int = _BOOT, seed: int = _SEED, as_json: bool = _JSON,
    out: Optional[Path] = _OUT, plot: Optional[Path] = _PLOT,
) -> None:
    """Metric vs compute (best-per-FLOP envelope, Q = k C^gamma vs a saturating law) and vs loss."""
    from slmscale.scaling import downstream, table

    df = table.load(results, metric, min_points=3, skip_empty_target=True)
    record = downstream.analyze(df, metric, arm_col=arm_col, n_boot=bootstrap, seed=seed,
                                chance=chance, margin=margin, max_loss=max_loss, compute=compute)
    if plot is not None:
        from slmscale.scaling import figures

        record["figures"] = [str(p) for p in figures.downstream_figures(df, record, plot)]
    _emit(record, as_json, out, _fmt_downstream(record))


def _fmt_downstream(r: dict) -> str:
    lines = [f"{r['metric']} vs compute ({r.get('compute', 'flops')}) and loss"]
    for name, arm in r["arms"].items():
        vc = arm["vs_compute"]
        lines.append(f"  [{name}] gamma = {arm['gamma']:.4g}{_ci_text(arm, 'gamma')}  (k = {arm['k']:.4g}, "
                     f"R² {vc['power']['r2']:.3f}; preferred form: {vc['preferred']})")
        vl = arm.get("vs_loss", {})
        if "slope" in vl:
            lines.append(f"  [{name}] {r['metric']} = {vl['slope']:.4g} * loss + {vl['intercept']:.4g}, "
                         f"r = {vl['pearson_r']:.3f}, R² = {vl['r2']:.3f} ({vl['n_used']} runs, "
                         f"{vl['n_excluded']} at chance left out)")
        lines.extend(f"  [{name}] warning: {w}" for w in arm.get("warnings", []))
    lines.extend(f"  [{name}] not fitted: {why}" for name, why in r.get("skipped", {}).items())
    for c in r.get("comparisons", []):
        lines.append(f"  {c.get('paper_statement', c.get('skipped'))}")
        if "exact_statement" in c:
            lines.append(f"  {c['exact_statement']}")
    return "\n".join(lines)


def fit_envelope(
    inputs: list[Path] = typer.Argument(..., help="A results table, or run directories (metrics.jsonl curves)."),
    loss_key: Optional[str] = typer.Option(None, "--loss-key", help="Loss field in metrics.jsonl (default: valid_loss, val_loss, eval_loss, loss)."),
    arm: Optional[str] = _ARM, bootstrap: int = _BOOT, seed: int = _SEED, as_json: bool = _JSON, out: Optional[Path] = _OUT, plot: Optional[Path] = _PLOT,
) -> None:
    """Approach 1: envelope of minimal loss per FLOP and its power law L = k C^gamma."""
    from slmscale.scaling import envelope, table

    if len(inputs) == 1 and inputs[0].is_file():
        df = table.select_arm(table.load(inputs[0], "loss", min_points=3), arm)
    else:
        df = table.prepare(envelope.read_curves(inputs, loss_key), source="training curves")
    record = envelope.fit(df, n_boot=bootstrap, seed=seed)
    if plot is not None:
        from slmscale.scaling import figures

        record["figures"] = [str(p) for p in figures.envelope_figures(df, record, plot)]
    r2 = "n/a" if record["r2"] is None else f"{record['r2']:.3f}"
    summary = (f"loss envelope: L = {record['k']:.4g} C^{record['gamma']:.4f}{_ci_text(record, 'gamma')} over "
               f"{record['n_envelope']} frontier points (R² {r2})")
    if "a" in record:
        summary += f"\n  N_opt ∝ C^{record['a']:.3f}, D_opt ∝ C^{record['b']:.3f}"
    _emit(record, as_json, out, summary)


def fit_isoflop(
    results: Path = typer.Argument(..., help="Results table with runs of several sizes per FLOP budget."),
    tol_dex: float = typer.Option(0.05, "--tol-dex", help="Runs within this many decades of FLOPs share a budget."),
    arm: Optional[str] = _ARM, as_json: bool = _JSON, out: Optional[Path] = _OUT, plot: Optional[Path] = _PLOT,
) -> None:
    """Approach 2: per-budget parabola in log N, optimum, then N_opt(C), D_opt(C) power laws."""
    from slmscale.scaling import isoflop, table

    df = table.select_arm(table.load(results, "loss", min_points=6), arm)
    record = isoflop.fit(df, tol_dex)
    if plot is not None:
        from slmscale.scaling import figures

        record["figures"] = [str(p) for p in figures.isoflop_figures(df, record, plot)]
    summary = (f"IsoFLOP over {len(record['budgets'])} budgets: N_opt ∝ C^{record['a']:.3f}, "
               f"D_opt ∝ C^{record['b']:.3f} ({len(record['skipped'])} budget(s) skipped)")
    _emit(record, as_json, out, summary)


def plan(
    fit: Path = typer.Option(..., "--fit", help="A loss fit (fit loss --out/--json), a downstream fit (fit downstream --out), or a study's DIR/fits.json with --arm."),
    flops: Optional[float] = typer.Option(None, "--flops", help="Compute budget C in FLOPs (C = 6ND)."),
    target: Optional[str] = typer.Option(None, "--target", help="METRIC=VALUE, e.g. sblimp=0.70."),
    downstream: Optional[Path] = typer.Option(None, "--downstream", help="Downstream fit giving the metric-vs-loss map (with a loss --fit)."),
    arm: Optional[str] = typer.Option(None, "--arm", help="Arm to use: of a downstream fit, or of a study's fits.json."),
    level: float = typer.Option(0.95, "--level", help="Confidence level of the intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """For a budget: N_opt, D_opt, tokens/param, loss. For a target metric: the compute needed."""
    from slmscale.errors import UserError
    from slmscale.scaling import fitfile, planner

    if (flops is None) == (target is None):
        raise UserError("give exactly one of --flops C or --target METRIC=VALUE")
    if not 0 < level < 1:
        raise UserError("--level must be between 0 and 1 (e.g. 0.95)")
    metric = planner.parse_target(target)[0] if target is not None and downstream is None else None
    record = fitfile.load(fit, arm=arm, metric=metric)
    if flops is not None:
        if record.get("form") == "downstream":
            raise UserError(f"{fit}: --flops needs a loss fit (slmscale fit loss ... --out FIT.json)")
        answer = planner.plan_flops(record, flops, level)
        text = (f"C = {flops:.3g} FLOPs: N_opt = {answer['n_opt']:.4g}, D_opt = {answer['d_opt']:.4g} "
                f"tokens ({answer['tokens_per_param']:.3g} tokens/param), loss = {answer['loss']:.4f}")
        for k, v in answer["ci"].items():
            text += f"\n  {int(level * 100)}% CI {k}: [{v[0]:.4g}, {v[1]:.4g}]"
    else:
        name, value = planner.parse_target(target)
        if downstream is not None:
            if record.get("form") == "downstream":
                raise UserError("with --downstream, --fit must be a loss fit")
            answer = planner.target_via_loss(record, fitfile.load(downstream), name, value, arm, level)
        elif record.get("form") == "downstream":
            answer = planner.target_via_compute(record, name, value, arm, level)
        else:
            raise UserError("--target with a loss fit needs --downstream DS.json (the metric-vs-loss "
                            "map); or pass the downstream fit itself as --fit")
        text = f"{name} = {value} ({answer['arm']}, via {answer['via']}): C = {answer['flops']:.4g} FLOPs"
        if answer["ci"].get("flops"):
            lo, hi = answer["ci"]["flops"]
            text += f"\n  {int(level * 100)}% CI: [{lo:.4g}, {hi:.4g}]"
        if "warning" in answer:
            text += f"\n  warning: {answer['warning']}"
    if as_json:
        typer.echo(json.dumps(_clean(answer), indent=2, sort_keys=True))
    else:
        typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add `fit` (loss, downstream, envelope, isoflop) and the top-level `plan`."""
    fit_app.command("loss")(fit_loss)
    fit_app.command("downstream")(fit_downstream)
    fit_app.command("envelope")(fit_envelope)
    fit_app.command("isoflop")(fit_isoflop)
    app.add_typer(fit_app, name="fit")
    app.command("plan")(plan)
