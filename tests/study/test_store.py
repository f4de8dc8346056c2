from __future__ import annotations

import json

import pandas as pd

from slmscale.study.expand import expand
from slmscale.study.runners import execute_run
from slmscale.study.runstate import prepare_run
from slmscale.study.spec import load_spec
from slmscale.study.store import COLUMNS, collect, finished_rows, write_results
from study_helpers import fake_commands, make_spec, write_spec


def _study(tmp_path, shards, n=3):
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards)))
    study = tmp_path / "out"
    runs = expand(spec)[:n]
    for r in runs:
        root = study / "runs" / r.run_id
        prepare_run(root, r, shards, {"sblimp": tmp_path / "bench"})
    return study, runs


def test_results_are_rebuilt_from_run_folders_one_row_each(tmp_path, shards):
    study, runs = _study(tmp_path, shards)
    execute_run(study / "runs" / runs[0].run_id, **fake_commands())
    rows = write_results(study)
    df = pd.read_csv(study / "results.csv")
    assert list(df.columns) == COLUMNS
    assert sorted(df["run_id"]) == sorted(r.run_id for r in runs)
    by = df.set_index("run_id")
    done = by.loc[runs[0].run_id]
    summary = json.loads((study / "runs" / runs[0].run_id / "run" / "summary.json").read_text())
    assert done["status"] == "finished" and done["loss"] == summary["loss"]
    assert done["sblimp"] == summary["sblimp"] and done["params_total"] == summary["params_total"]
    assert set(by.drop(runs[0].run_id)["status"]) == {"pending"}
    assert pd.read_parquet(study / "results.parquet")["run_id"].tolist() == df["run_id"].tolist()
    assert [r["run_id"] for r in finished_rows(rows)] == [runs[0].run_id]

    # Deleting the table loses nothing: it is derived data.
    (study / "results.csv").unlink()
    write_results(study)
    assert pd.read_csv(study / "results.csv").equals(df)


def test_damaged_summary_or_status_does_not_break_collection(tmp_path, shards):
    study, runs = _study(tmp_path, shards, n=2)
    root = study / "runs" / runs[0].run_id
    execute_run(root, **fake_commands())
    (root / "status.json").write_text("{not json")
    (study / "runs" / runs[1].run_id / "run").mkdir(parents=True)
    (study / "runs" / runs[1].run_id / "run" / "summary.json").write_text("")
    rows = {r["run_id"]: r for r in collect(study)}
    assert rows[runs[0].run_id]["status"] == "finished"
    assert rows[runs[1].run_id]["status"] == "partial"
