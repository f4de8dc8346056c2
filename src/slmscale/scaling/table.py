"""Load and validate a results table (CSV or Parquet, one row per run).

Only `params`, `tokens` and the target column (`loss` or a metric) are required; `flops` is
derived as 6·N·D when absent. Rows whose `status` is not "finished" are dropped and counted.
Every problem is a one-line UserError that names the file, the column and the rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slmscale.errors import UserError

REQUIRED = ("params", "tokens")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet results table."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: results table not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as err:  # pandas raises many parser error types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{path}: cannot read as a results table ({first})") from None


def _rows(mask: np.ndarray, df: pd.DataFrame) -> str:
    """Row labels for a message: the run_id if present, else the CSV line number."""
    idx = np.flatnonzero(mask)
    if "run_id" in df.columns:
        labels = [str(df["run_id"].iloc[i]) for i in idx[:5]]
    else:
        labels = [f"line {i + 2}" for i in idx[:5]]
    more = f" (+{len(idx) - 5} more)" if len(idx) > 5 else ""
    return ", ".join(labels) + more


def prepare(df: pd.DataFrame, target: str = "loss", source: str = "results",
            min_points: int = 1, extra: tuple[str, ...] = (), skip_empty_target: bool = False) -> pd.DataFrame:
    """Validate columns and values; return a clean copy with float `params, tokens, flops, target`.

    `extra` names further required numeric positive columns (e.g. `epochs` for multi-epoch fits).
    Drops rows whose `status` is not "finished" (the count is kept in `df.attrs["dropped"]`), and,
    with `skip_empty_target`, rows with no value in `target` (a study's arms are not all evaluated
    on every benchmark; counted in `df.attrs["not_evaluated"]`).
    """
    needed = (*REQUIRED, target, *extra)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns)) or "none"
        raise UserError(f"{source}: missing column(s) {', '.join(missing)} (have: {have}); "
                        f"a results table needs at least params, tokens and {target}")
    out = df.copy()
    dropped = 0
    if "status" in out.columns:
        keep = out["status"].astype(str).str.strip().str.lower().isin(["finished", "nan", ""])
        dropped = int((~keep).sum())
        out = out[keep]
    not_evaluated = 0
    if skip_empty_target:
        empty = out[target].isna()
        not_evaluated = int(empty.sum())
        out = out[~empty]
    out = out.reset_index(drop=True)
    cols = [*needed] + (["flops"] if "flops" in out.columns else [])
    for col in cols:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna().to_numpy() & out[col].notna().to_numpy()
        if bad.any():
            raise UserError(f"{source}: column '{col}' has non-numeric values in {_rows(bad, out)}")
        out[col] = values.astype(float)
    for col in needed:
        vals = out[col].to_numpy()
        if np.isnan(vals).any():
            raise UserError(f"{source}: column '{col}' is empty in {_rows(np.isnan(vals), out)}; "
                            "fill it in or remove those rows")
        if not np.isfinite(vals).all() or (vals <= 0).any():
            bad = ~np.isfinite(vals) | (vals <= 0)
            raise UserError(f"{source}: column '{col}' must be positive and finite; "
                            f"bad value in {_rows(bad, out)}")
    derived = 6.0 * out["params"] * out["tokens"]
    if "flops" in out.columns:
        fl = out["flops"].to_numpy()
        if (fl[np.isfinite(fl)] <= 0).any():
            raise UserError(f"{source}: column 'flops' must be positive; "
                            f"bad value in {_rows(np.isfinite(fl) & (fl <= 0), out)}")
        out["flops"] = out["flops"].fillna(derived)
    else:
        out["flops"] = derived
    if len(out) < min_points:
        raise UserError(f"{source}: {len(out)} usable run(s) (after dropping {dropped} not finished); "
                        f"this fit needs at least {min_points}")
    out.attrs["dropped"] = dropped
    out.attrs["not_evaluated"] = not_evaluated
    out.attrs["source"] = source
    return out


def load(path: str | Path, target: str = "loss", min_points: int = 1,
         extra: tuple[str, ...] = (), skip_empty_target: bool = False) -> pd.DataFrame:
    """`read_table` + `prepare`, with messages naming the file."""
    return prepare(read_table(path), target=target, source=str(path), min_points=min_points,
                   extra=extra, skip_empty_target=skip_empty_target)


def budget_groups(flops: np.ndarray, tol_dex: float = 0.05) -> np.ndarray:
    """Group runs into compute budgets: sorted log10 FLOPs closer than `tol_dex` share a group.

    Returns an integer label per run, 0 for the smallest budget.
    """
    logc = np.log10(np.asarray(flops, dtype=float))
    order = np.argsort(logc, kind="stable")
    labels = np.empty(len(logc), dtype=int)
    group, prev = 0, None
    for i in order:
        if prev is not None and logc[i] - prev > tol_dex:
            group += 1
        labels[i] = group
        prev = logc[i]
    return labels


def select_arm(df: pd.DataFrame, arm: str | None, arm_col: str = "arm") -> pd.DataFrame:
    """The runs of one arm. A table with several arms and no `arm` is refused: a scaling law fitted
    to the pooled runs of different models (speech, text, interleaved) describes none of them."""
    source = df.attrs.get("source", "results")
    if arm_col not in df.columns:
        if arm is not None:
            raise UserError(f"{source}: --arm {arm!r} given but the table has no '{arm_col}' column")
        return df
    names = sorted(df[arm_col].dropna().astype(str).unique())
    if arm is None:
        if len(names) > 1:
            raise UserError(f"{source}: the table has arms {', '.join(names)}; choose one with --arm NAME "
                            "(arms are never pooled into one fit)")
        return df
    if arm not in names:
        raise UserError(f"{source}: arm {arm!r} not in the table (have: {', '.join(names) or 'none'})")
    out = df[df[arm_col].astype(str) == arm].reset_index(drop=True)
    out.attrs.update(df.attrs)
    out.attrs["source"] = f"{source} [arm {arm}]"
    return out
