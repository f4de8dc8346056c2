import json
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from support import scaling_tables as synthetic


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _proc(*args):
    """In a subprocess: the real exit code and stderr of the console entry point."""
    return subprocess.run([sys.executable, "-m", "slmscale.cli.main", *args], capture_output=True, text=True)


@pytest.fixture
def _run(capsys):
    """In-process (seconds faster per call on a loaded machine): slmscale.cli.main.main with
    captured output; numpy/scipy RuntimeWarnings fail the test (none may leak to the user)."""
    from slmscale.cli.main import main

    def run(*args):
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            try:
                main(list(args))
                code = 0
            except SystemExit as err:
                code = err.code or 0
        out = capsys.readouterr()
        return _Result(code, out.out, out.err)

    return run


def test_fit_loss_and_plan(tmp_path, _run):
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
    out = _proc("fit", "loss", str(csv))
    assert out.returncode == 2 and "missing column(s) tokens" in out.stderr and "Traceback" not in out.stderr
    out = _proc("plan", "--fit", str(tmp_path / "none.json"), "--flops", "1e20")
    assert out.returncode == 2 and "not found" in out.stderr


def _two_arms(tmp_path):
    p = dict(E=1.73, A=13.9, B=39.8, alpha=0.25, beta=0.24)
    a = synthetic.loss_table(p, noise=0.005, seed=1).assign(arm="speech")
    b = synthetic.loss_table({**p, "E": 1.5}, noise=0.005, seed=2).assign(arm="text")
    csv = tmp_path / "two.csv"
    pd.concat([a, b]).to_csv(csv, index=False)
    return csv


def test_fit_loss_refuses_to_pool_arms_and_fits_one_with_arm(tmp_path, _run):
    csv = _two_arms(tmp_path)
    out = _run("fit", "loss", str(csv))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "arms speech, text" in line and "--arm" in line
    out = _run("fit", "loss", str(csv), "--arm", "text", "--huber-delta", "0.03", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == ""  # and no RuntimeWarning was raised (the fixture turns them into errors)
    rec = json.loads(out.stdout)
    assert rec["n_points"] == 64 and abs(rec["E"] - 1.5) < 0.1 and "[arm text]" in rec["source"]
    bad = _run("fit", "loss", str(csv), "--arm", "unigram")
    assert bad.returncode == 2 and "arm 'unigram' not in the table (have: speech, text)" in bad.stderr


def test_json_output_carries_intervals_a_plan_can_use(tmp_path, _run):
    csv = tmp_path / "r.csv"
    synthetic.loss_table(dict(E=1.73, A=13.9, B=39.8, alpha=0.25, beta=0.24), noise=0.005).to_csv(csv, index=False)
    out = _run("fit", "loss", str(csv), "--bootstrap", "20", "--json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert len(rec["ci"]["alpha"]) == 2 and len(rec["bootstrap"]["samples"]["alpha"]) == 20 - rec["bootstrap"]["failed"]
    (tmp_path / "stdout.json").write_text(out.stdout)  # saved from stdout, as a user would
    plan = _run("plan", "--fit", str(tmp_path / "stdout.json"), "--flops", "1e21", "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["ci"]["n_opt"][0] > 0


def test_fit_loss_leaves_out_repeated_runs_in_the_chinchilla_form(tmp_path, _run):
    p = dict(E=1.73, A=13.9, B=39.8, alpha=0.25, beta=0.24, r_star_n=31.0, r_star_d=25.0)
    df = synthetic.loss_table(p, noise=0.003, epochs=[1, 4])
    csv = tmp_path / "ep.csv"
    df.to_csv(csv, index=False)
    out = _run("fit", "loss", str(csv))
    assert out.returncode == 0, out.stderr
    assert "left out: the Chinchilla form assumes unique data; 64 run(s) repeat" in out.stdout
    rec = json.loads(_run("fit", "loss", str(csv), "--json").stdout)
    assert rec["n_points"] == 64 and rec["excluded_repeated"]["n"] == 64


def test_plan_refuses_a_degenerate_fit_in_one_line(tmp_path, _run):
    rows = [(n, d, 30.0 / n**0.3 + 40.0 / d**0.3) for n in (5e4, 7e4, 1e5) for d in (2e5, 4e5, 1e6)]
    csv = tmp_path / "narrow.csv"
    pd.DataFrame(rows, columns=["params", "tokens", "loss"]).to_csv(csv, index=False)
    assert _run("fit", "loss", str(csv), "--out", str(tmp_path / "f.json")).returncode == 0
    out = _run("plan", "--fit", str(tmp_path / "f.json"), "--flops", "1e18")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "not extrapolating from this loss fit: it is degenerate" in line and "ladder spans" in line
