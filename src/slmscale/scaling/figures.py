"""The papers' figures with matplotlib (Agg backend), each saved as PNG and SVG.

loss_by_size     loss vs FLOPs per model size on log-log axes, envelope and its law (C&M Fig. 1)
metric_vs_compute  metric vs FLOPs per arm with fitted laws (Fig. 2)
metric_vs_loss   metric vs loss with linear fits (Fig. 4)
isoflop_curves   loss vs N per budget with parabolas and optima
frontier         L(N, D) contours with the compute-optimal frontier and the runs
Published fits (configs/published) can be overlaid through the `overlay` arguments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slmscale.scaling import envelope, forms


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "slmscale"  # stable SVG ids, so the same data = same bytes
    return plt


def major_ticks_only(ax, axes: str = "xy") -> None:
    """Readable labels on log axes: decades only (minor labels collide on narrow panels); an axis
    spanning less than a decade, which may hold no decade at all, is labelled at 1, 2 and 5 x 10^k
    so it never loses its labels. Call after the data are drawn (it reads the axis limits)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in axes:
        axis = getattr(ax, f"{name}axis")
        axis.set_minor_formatter(NullFormatter())
        lo, hi = getattr(ax, f"get_{name}lim")()
        if lo > 0 and hi / lo < 10:
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(_one_two_five))


def _one_two_five(v: float, _pos=None) -> str:
    """2, 5, 20 as plain numbers; 2e11 as 2×10^11."""
    if v <= 0:
        return ""
    e = int(np.floor(np.log10(v) + 1e-9))
    m = v / 10**e
    if -2 <= e <= 3:
        return f"{v:g}"
    return f"${m:g}\\times10^{{{e}}}$" if abs(m - 1) > 1e-9 else f"$10^{{{e}}}$"


ARM_PALETTE = "tab10"


def arm_colors(arms) -> dict:
    """One colour per arm, fixed by the arms' order, for every figure of a study or a table."""
    import matplotlib

    cmap = matplotlib.colormaps[ARM_PALETTE]
    return {a: cmap(i % cmap.N) for i, a in enumerate(arms)}


def panel_grid(n: int, ncols: int = 3, size=(4.6, 3.6)):
    """A figure with n panels in rows of at most `ncols` (unused cells hidden); returns (fig, axes)."""
    plt = _plt()
    cols = max(1, min(ncols, n))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    from slmscale.artifacts import atomic_open

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        path = out_dir / f"{name}.{ext}"
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=ext, dpi=120, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else {"Software": None})
        paths.append(path)
    _plt().close(fig)
    return paths


def loss_by_size(df: pd.DataFrame, env_fit: dict | None, out_dir: Path, name: str = "loss_by_size"):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    sizes = np.sort(df["params"].unique())
    cmap = plt.get_cmap("viridis")
    labelled = set(np.linspace(0, len(sizes) - 1, min(len(sizes), 8)).round().astype(int))
    for i, n in enumerate(sizes):
        sub = df[df["params"] == n].sort_values("flops")
        ax.plot(sub["flops"], sub["loss"], "o-", ms=3, lw=1, color=cmap(i / max(len(sizes) - 1, 1)),
                label=f"N={n:.3g}" if i in labelled else None)
    if env_fit is not None:
        e = env_fit["envelope"]
        ax.plot(e["flops"], e["loss"], "k.", ms=7, label="envelope")
        c = np.geomspace(min(e["flops"]), max(e["flops"]) * 10, 50)
        ax.plot(c, envelope.predict(env_fit, c), "k--",
                label=f"L = {env_fit['k']:.3g} C^{env_fit['gamma']:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)", ylabel="loss (nats/token)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out_dir, name)


def frontier(df: pd.DataFrame, fit: dict, out_dir: Path, name: str = "frontier",
             overlay: dict[str, dict] | None = None, title: str | None = None):
    """Contours of the fitted L(N, D) in (N, D); the optimal frontier N_opt(C), D_opt(C)."""
    plt = _plt()
    p = {k: fit[k] for k in forms.LOSS_PARAMS}
    n_lo, n_hi = df["params"].min() / 3, df["params"].max() * 3
    d_lo, d_hi = df["tokens"].min() / 3, df["tokens"].max() * 3
    N, D = np.meshgrid(np.geomspace(n_lo, n_hi, 120), np.geomspace(d_lo, d_hi, 120))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    Z = forms.chinchilla_loss(N, D, **p)
    # Levels over the central range of the surface, so a steep corner cannot flatten the rest.
    lo, hi = np.nanpercentile(Z, [2, 98])
    levels = np.linspace(lo, hi, 21) if hi > lo else 20
    cs = ax.contourf(N, D, Z, levels=levels, cmap="magma_r", extend="both")
    fig.colorbar(cs, ax=ax, label="fitted loss")
    C = np.geomspace(6 * n_lo * d_lo, 6 * n_hi * d_hi, 60)
    curves = {"fit": p, **{k: {q: v[q] for q in forms.LOSS_PARAMS} for k, v in (overlay or {}).items()}}
    for (label, q), style in zip(curves.items(), ("w-", "c--", "y:", "g-.")):
        n, d = forms.n_opt(C, q["A"], q["B"], q["alpha"], q["beta"]), forms.d_opt(C, q["A"], q["B"], q["alpha"], q["beta"])
        ok = (n > n_lo) & (n < n_hi) & (d > d_lo) & (d < d_hi)
        ax.plot(n[ok], d[ok], style, lw=2, label=f"compute-optimal ({label})")
    ax.scatter(df["params"], df["tokens"], s=10, c="k", label="runs")
    ax.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="tokens D", xlim=(n_lo, n_hi),
           ylim=(d_lo, d_hi))
    major_ticks_only(ax)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, out_dir, name)


def isoflop_curves(df: pd.DataFrame, iso: dict, out_dir: Path, name: str = "isoflop", title: str | None = None):
    from slmscale.scaling.table import budget_groups

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    groups = budget_groups(df["flops"].to_numpy())
    cmap = plt.get_cmap("plasma")
    budgets = iso["budgets"]
    logc = np.log10(df["flops"].to_numpy())
    for i, b in enumerate(budgets):
        color = cmap(i / max(len(budgets) - 1, 1))
        # the runs of this budget: the group whose FLOPs lie closest to the budget's
        g = groups[np.argmin(np.abs(logc - np.log10(b["flops"])))]
        sub = df[groups == g]
        ax.plot(sub["params"], sub["loss"], "o", color=color, ms=4)
        x = np.linspace(np.log(sub["params"].min()), np.log(sub["params"].max()), 50)
        ax.plot(np.exp(x), np.polyval(b["coef"], x), "-", color=color, label=f"C={b['flops']:.2g}")
        ax.plot(b["n_opt"], b["loss_opt"], "k*", ms=9)
    ax.set(xscale="log", xlabel="parameters N", ylabel="loss", title=title or "IsoFLOP profiles")
    major_ticks_only(ax, "x")
    ax.legend(fontsize=7)
    return _save(fig, out_dir, name)


def metric_vs_compute(df: pd.DataFrame, ds: dict, out_dir: Path, name: str | None = None):
    plt = _plt()
    metric = ds["metric"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    col = ds.get("arm_col")
    compute = ds.get("compute", "flops")
    colors = arm_colors(ds["arms"])
    for arm, fit in ds["arms"].items():
        color = colors[arm]
        sub = df[df[col].astype(str) == arm] if col else df
        ax.scatter(sub[compute], sub[metric], s=10, alpha=0.4, color=color)
        e = fit["envelope"]
        ax.plot(e["flops"], e[metric], "o", color=color, ms=5)
        c = np.geomspace(min(e["flops"]), max(e["flops"]) * 10, 60)
        ax.plot(c, capped(forms.power_law(c, fit["k"], fit["gamma"])), "-", color=color,
                label=f"{arm}: {metric} ∝ C^{fit['gamma']:.3f}")
        sat = fit["vs_compute"].get("saturating", {})
        if "q_inf" in sat:
            ax.plot(c, forms.saturating(c, sat["q_inf"], sat["k"], sat["lam"]), ":", color=color,
                    label=f"{arm}: saturating (q∞={sat['q_inf']:.2f})")
    ax.set(xscale="log", yscale="log", xlabel=f"compute ({compute}, FLOPs)", ylabel=metric)
    major_ticks_only(ax)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, name or f"{metric}_vs_compute")


def capped(q, top: float = 1.0):
    """An accuracy law drawn no higher than `top` (1.0): beyond it the curve is not drawn."""
    q = np.asarray(q, dtype=float)
    return np.where(q <= top, q, np.nan)


def metric_vs_loss(df: pd.DataFrame, ds: dict, out_dir: Path, name: str | None = None):
    plt = _plt()
    metric = ds["metric"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    col = ds.get("arm_col")
    colors = arm_colors(ds["arms"])
    for arm, fit in ds["arms"].items():
        sub = df[df[col].astype(str) == arm] if col else df
        ax.scatter(sub["loss"], sub[metric], s=10, color=colors[arm], label=arm)
        lin = fit.get("vs_loss", {})
        if "slope" in lin:
            x = np.linspace(sub["loss"].min(), sub["loss"].max(), 20)
            ax.plot(x, lin["slope"] * x + lin["intercept"], "-", color=colors[arm],
                    label=f"{arm}: r={lin['pearson_r']:.3f}, R²={lin['r2']:.3f}")
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set(xlabel="loss (nats/token)", ylabel=metric)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, name or f"{metric}_vs_loss")


def loss_figures(df: pd.DataFrame, record: dict, out_dir: Path) -> list[Path]:
    """Figures for `fit loss --plot`: runs by size with the envelope, frontier over contours."""
    out_dir = Path(out_dir)
    try:
        env = envelope.fit(df)
    except Exception:  # too few frontier points: plot the runs without the law
        env = None
    title = "degenerate fit: not for extrapolation" if record.get("degenerate") else None
    paths = loss_by_size(df, env, out_dir) + frontier(df, record, out_dir, title=title)
    from slmscale.scaling import isoflop

    try:
        paths += isoflop_curves(df, isoflop.fit(df), out_dir)
    except Exception:  # not an IsoFLOP design; that figure does not apply
        pass
    return paths


def envelope_figures(df, record, out_dir):
    return loss_by_size(df, record, Path(out_dir))


def isoflop_figures(df, record, out_dir):
    return isoflop_curves(df, record, Path(out_dir))


def downstream_figures(df, record, out_dir) -> list[Path]:
    paths = metric_vs_compute(df, record, Path(out_dir))
    if "loss" in df.columns and any("slope" in a.get("vs_loss", {}) for a in record["arms"].values()):
        paths += metric_vs_loss(df, record, Path(out_dir))
    return paths
