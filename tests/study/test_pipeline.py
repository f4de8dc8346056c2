"""Planning checks before any work: every run's TRAIN config and preset, and repeated-data warnings."""

from __future__ import annotations

import pytest

from slmscale.errors import UserError
from slmscale.study.expand import expand
from slmscale.study.pipeline import MANY_EPOCHS, check_plan, repeat_warnings, run_study
from slmscale.study.spec import load_spec
from study_helpers import make_spec, write_spec


def _builtin(tmp_path, shards, **kw) -> dict:
    """A spec trained by slmscale's own worker (no fake commands), real presets."""
    d = make_spec(tmp_path, shards, grid={"sizes": ["auto-10k", {"preset": "auto-25k", "params": 25_000}],
                                          "tokens_per_param": [2]}, **kw)
    d["execution"] = {"jobs": 1}
    return d


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.update(train={"train": {"lrr": 3}}), "train.train.lrr: unknown key"),
    (lambda d: d.update(train={"train": {"lr": -1}}), "train.train.lr: Input should be greater than 0"),
    (lambda d: d["arms"][0].update(train={"eval.max_tokenz": 5}), "train.eval.max_tokenz: unknown key"),
    (lambda d: d["grid"]["sizes"].append({"preset": "nonsense", "params": 5000}), "grid size: model.preset 'nonsense'"),
])
def test_every_planned_run_is_validated_before_any_work(tmp_path, shards, mutate, needle):
    d = _builtin(tmp_path, shards)
    mutate(d)
    spec = load_spec(write_spec(tmp_path, d))
    with pytest.raises(UserError) as err:
        run_study(spec, tmp_path / "out", report=False)
    msg = str(err.value)
    assert needle in msg and msg.startswith("run speech_") and "\n" not in msg
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_valid_plan_passes_and_names_every_run(tmp_path, shards):
    spec = load_spec(write_spec(tmp_path, _builtin(tmp_path, shards)))
    runs = check_plan(spec)
    assert [r.preset for r in runs] == ["auto-10k", "auto-25k"]


def test_grid_owned_train_keys_are_refused(tmp_path, shards):
    d = _builtin(tmp_path, shards, train={"model": {"init_from": "/elsewhere"}})
    with pytest.raises(UserError, match="train.model.init_from: set by the study"):
        check_plan(load_spec(write_spec(tmp_path, d)))


def test_multi_epoch_arms_warn_at_load_with_the_chinchilla_form(tmp_path, shards):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2],
            "multi_epoch": [{"size": "fake-20000", "unique_tokens": 10_000, "epochs": [1, 4]}]}
    path = write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid))
    with pytest.warns(UserWarning, match=r"arm 'speech': runs repeat their data \(4 epochs\).*data-constrained"):
        load_spec(path)
    d = make_spec(tmp_path, shards, grid=grid, fits={"form": "data-constrained", "bootstrap": 0})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_spec(write_spec(tmp_path, d))  # no warning with the data-constrained form


def test_runs_record_unique_tokens_and_warn_when_repeating_many_epochs(tmp_path, shards):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2],
            "multi_epoch": [{"size": "fake-20000", "unique_tokens": 10_000, "epochs": [1, 8]}]}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid)))
    runs = expand(spec, unique_tokens={"speech": 1_000_000})
    by_budget = {r.budget: r for r in runs}
    assert by_budget["tpp=2"].unique_tokens == 1_000_000 and by_budget["tpp=2"].epochs == pytest.approx(0.04)
    assert by_budget["epochs=8"].unique_tokens == 10_000 and by_budget["epochs=8"].epochs == pytest.approx(8)
    assert by_budget["epochs=8"].to_dict()["epochs"] == pytest.approx(8)
    lines = repeat_warnings(runs)
    assert len(lines) == 1 and by_budget["epochs=8"].run_id in lines[0] and "8.0 times" in lines[0]
    assert MANY_EPOCHS < 8


def test_plan_lists_the_runs_max_epochs_dropped(tmp_path, shards):
    """The fixture's shards hold 15 training tokens: a 2-token budget stays, a 40-token one (2.7 epochs)
    is dropped before anything trains, and plan.json says which and why."""
    import json

    grid = {"sizes": [{"preset": "fake-1", "params": 1}, {"preset": "fake-20", "params": 20}],
            "tokens_per_param": [2], "max_epochs": 1.0}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid)))
    res = run_study(spec, tmp_path / "out", report=False)
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert res["runs"] == 1 and [r["tokens"] for r in plan["runs"]] == [2]
    [d] = plan["dropped"]
    assert d["preset"] == "fake-20" and "40 tokens = 2.67 epochs of its 15 unique tokens" in d["reason"]
