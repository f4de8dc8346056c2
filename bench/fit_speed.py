"""Fit and bootstrap speed of the Chinchilla loss fit (prints JSON).

`--coverage S` also checks 95% bootstrap CI coverage of the true alpha/beta/E/a over S seeds.
"""

import argparse
import json
import time

import numpy as np

from slmscale.scaling import bootstrap, chinchilla, forms
import sys  # noqa: E402
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))  # test-data generators
from support import scaling_tables as synthetic  # noqa: E402

TRUE = dict(E=1.73, A=13.9, B=39.8, alpha=0.25, beta=0.24)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=250)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--coverage", type=int, default=0)
    args = ap.parse_args()
    sizes = np.geomspace(2e6, 8e8, max(args.points // 8, 2))
    df = synthetic.loss_table(TRUE, sizes=sizes, noise=0.01, seed=0).head(args.points)
    N, D, L = (df[c].to_numpy() for c in ("params", "tokens", "loss"))
    t = time.perf_counter()
    fit = chinchilla.fit_arrays(N, D, L)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    bootstrap.loss_samples(fit, N, D, L, args.boot, 0, show_progress=False)
    out = {"points": len(N), "fit_s": round(fit_s, 3), "bootstrap_refits": args.boot,
           "bootstrap_s": round(time.perf_counter() - t, 3)}
    if args.coverage:
        a_true, _ = forms.optimal_exponents(0.25, 0.24)
        hits = {"alpha": 0, "beta": 0, "E": 0, "a": 0}
        for s in range(args.coverage):
            d = synthetic.loss_table(TRUE, noise=0.01, seed=100 + s)
            n, dd, ll = (d[c].to_numpy() for c in ("params", "tokens", "loss"))
            f = chinchilla.fit_arrays(n, dd, ll)
            ci = bootstrap.loss_ci(bootstrap.loss_samples(f, n, dd, ll, 200, s, show_progress=False))
            truth = {"alpha": 0.25, "beta": 0.24, "E": 1.73, "a": a_true}
            for k in hits:
                hits[k] += ci[k][0] <= truth[k] <= ci[k][1]
        out["coverage_95"] = {k: v / args.coverage for k, v in hits.items()}
        out["coverage_seeds"] = args.coverage
    print(json.dumps(out))


if __name__ == "__main__":
    main()
