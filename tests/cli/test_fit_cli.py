import json
import subprocess
import sys

import pandas as pd

from support import scaling_tables as synthetic


def _run(*args):
    return subprocess.run([sys.executable, "-m", "slmscale.cli.main", *args], capture_output=True, text=True)


def test_fit_loss_and_plan(tmp_path):
    csv = tmp_path / "r.csv"
    synthetic.loss_table(dict(E=1.73, A=13.9, B=39.8, alpha=0.25, beta=0.24), noise=0.005).to_csv(csv, index=False)
    out = _run("fit", "loss", str(csv), "--bootstrap", "20", "--json", "--out", str(tmp_path / "f.json"),
               "--plot", str(tmp_path / "fig"))
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert rec["form"] == "chinchilla" and "alpha" in rec["ci"]
    assert (tmp_path / "fig" / "frontier.svg").is_file()
    plan = _run("plan", "--fit", str(tmp_path / "f.json"), "--flops", "1e21", "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["ci"]["n_opt"]


def test_fit_errors_are_one_line(tmp_path):
    csv = tmp_path / "bad.csv"
    pd.DataFrame({"params": [1, 2], "loss": [3, 2]}).to_csv(csv, index=False)
    out = _run("fit", "loss", str(csv))
    assert out.returncode == 2 and "missing column(s) tokens" in out.stderr and "Traceback" not in out.stderr
    out = _run("plan", "--fit", str(tmp_path / "none.json"), "--flops", "1e20")
    assert out.returncode == 2 and "not found" in out.stderr
