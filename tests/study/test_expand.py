from __future__ import annotations

import pytest

from slmscale.errors import UserError
from slmscale.study.expand import RunSpec, default_param_counter, expand
from slmscale.study.spec import load_spec

from study_helpers import make_spec, write_spec, write_text_and_interleaved_shards


def _spec(tmp_path, shards, **kw):
    return load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, **kw)))


def test_ratio_budgets_give_tokens_per_param_and_stable_ids(tmp_path, shards):
    spec = _spec(tmp_path, shards)
    runs = expand(spec, {"speech": "fp1"})
    assert len(runs) == 9
    assert {(r.params, r.tokens) for r in runs} >= {(20_000, 40_000), (300_000, 9_600_000)}
    again = expand(_spec(tmp_path, shards), {"speech": "fp1"})
    assert [r.run_id for r in runs] == [r.run_id for r in again]
    assert len({r.run_id for r in runs}) == 9
    # The data fingerprint and the train config enter the id; the order of keys does not.
    assert expand(spec, {"speech": "fp2"})[0].run_id != runs[0].run_id
    assert RunSpec.from_dict(runs[0].to_dict()) == runs[0]


def test_isoflop_budgets_and_min_tokens(tmp_path, shards):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}, {"preset": "fake-80000", "params": 80_000}],
            "flops": [4.8e10], "min_tokens": 200_000}
    runs = expand(_spec(tmp_path, shards, grid=grid))
    # D = C / 6N: 400k tokens for 20k params; 100k for 80k params is below min_tokens and dropped.
    assert [(r.params, r.tokens, r.budget) for r in runs] == [(20_000, 400_000, "flops=4.8e+10")]
    assert runs[0].flops == pytest.approx(4.8e10)


def test_multi_epoch_runs_and_seeds(tmp_path, shards):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [10],
            "multi_epoch": [{"size": "fake-20000", "unique_tokens": 50_000, "epochs": [2, 4]}],
            "seeds": [0, 1]}
    runs = expand(_spec(tmp_path, shards, grid=grid))
    assert len(runs) == 6
    me = [r for r in runs if r.budget.startswith("epochs")]
    assert sorted(r.tokens for r in me) == [100_000, 100_000, 200_000, 200_000]
    assert all(r.train["data.max_tokens"] == 50_000 for r in me)


def test_reserved_train_keys_are_rejected(tmp_path, shards):
    spec = _spec(tmp_path, shards, train={"budget": {"tokens": 5}})
    with pytest.raises(UserError, match="budget.tokens"):
        expand(spec)


def test_default_counter_uses_train_presets():
    from slmscale.model.presets import resolve_preset

    assert default_param_counter("cpu-1m") == resolve_preset("cpu-1m").non_embedding_params
    with pytest.raises(UserError):
        default_param_counter("no-such-preset")


def test_non_units_arms_match_their_partners_full_flops(tmp_path, shards):
    arms = [{"name": "speech", "kind": "units", "shards": str(shards)},
            {"name": "text", "kind": "text", "shards": str(shards)},
            {"name": "plain", "kind": "text", "shards": str(shards), "match_flops": False}]
    spec = _spec(tmp_path, shards, arms=arms, train={"train": {"seq_len": 64, "batch_tokens": 128}})
    calls = []

    def per_token(preset, vocab, seq):  # a stand-in cost: grows with the vocabulary
        calls.append((preset, vocab, seq))
        return 6.0 * int(preset.split("-")[1]) + 100.0 * vocab

    runs = expand(spec, vocab={"speech": 12, "text": 500, "plain": 500}, count_flops=per_token)
    speech = {(r.preset, r.budget): r for r in runs if r.arm == "speech"}
    for r in (r for r in runs if r.arm == "text"):
        p = speech[(r.preset, r.budget)]
        assert r.compute_partner == p.run_id and r.vocab_size == 500
        # Whole steps of 128 tokens: the nearest to the partner's full FLOPs.
        assert r.tokens % 128 == 0 and r.tokens < p.tokens
        assert r.tokens == round(p.flops_full / per_token(r.preset, 500, 64) / 128) * 128
        assert r.flops_full == pytest.approx(p.flops_full, rel=64 / r.tokens)
    plain = [r for r in runs if r.arm == "plain"]
    assert all(not r.compute_partner and r.tokens == speech[(r.preset, r.budget)].tokens for r in plain)
    assert {seq for _, _, seq in calls} == {64}
    # Without a model shape to count with, matching is refused with the way out named.
    with pytest.raises(UserError, match="set match_flops: false"):
        expand(spec, vocab={"speech": 12, "text": 500}, count_flops=lambda *a: None)


def _ladder(**grid):
    return {"sizes": [{"preset": "fake-20000", "params": 20_000}, {"preset": "fake-80000", "params": 80_000}],
            "tokens_per_param": [2, 8], **grid}


def test_max_epochs_drops_runs_past_their_unique_tokens_and_says_why(tmp_path, shards):
    spec = _spec(tmp_path, shards, grid=_ladder(max_epochs=1.0))
    dropped: list = []
    # 20k x 2, 20k x 8, 80k x 2 fit in 200k unique tokens; 80k x 8 = 640k tokens = 3.2 epochs does not.
    runs = expand(spec, unique_tokens={"speech": 200_000}, dropped=dropped)
    assert sorted(r.tokens for r in runs) == [40_000, 160_000, 160_000]
    assert all(r.epochs <= 1.0 for r in runs)
    [d] = dropped
    assert (d["arm"], d["preset"], d["budget"]) == ("speech", "fake-80000", "tpp=8")
    assert "3.20 epochs" in d["reason"] and "max_epochs 1" in d["reason"]
    # Unknown U (before the shards exist, as check_plan plans): nothing is dropped.
    assert len(expand(spec)) == 4
    # Without max_epochs every budget stays, repeating or not.
    assert len(expand(_spec(tmp_path, shards, grid=_ladder()), unique_tokens={"speech": 200_000})) == 4


def test_max_epochs_drops_the_partner_of_a_dropped_run_too(tmp_path, shards):
    """A matched arm (text) whose units partner was dropped is dropped with it, not sized by 6ND."""
    text, _ = write_text_and_interleaved_shards(tmp_path)
    arms = [{"name": "speech", "kind": "units", "shards": str(shards)},
            {"name": "text", "kind": "text", "shards": str(text)}]
    spec = _spec(tmp_path, shards, arms=arms, grid=_ladder(max_epochs=1.0))
    per_token = lambda preset, vocab, seq: 6.0 * int(preset.split("-")[1]) * (1 + vocab / 100)  # noqa: E731
    dropped: list = []
    runs = expand(spec, vocab={"speech": 12, "text": 20}, unique_tokens={"speech": 200_000, "text": 10**9},
                  count_flops=per_token, dropped=dropped)
    assert {(r.arm, r.preset, r.budget) for r in runs if r.arm == "text"} == \
        {("text", "fake-20000", "tpp=2"), ("text", "fake-20000", "tpp=8"), ("text", "fake-80000", "tpp=2")}
    assert all(r.compute_partner for r in runs if r.arm == "text")
    reasons = {d["arm"]: d["reason"] for d in dropped}
    assert set(reasons) == {"speech", "text"} and reasons["text"].startswith("its compute partner speech_fake-80000")


def test_max_epochs_must_be_positive(tmp_path, shards):
    with pytest.raises(UserError, match="max_epochs"):
        _spec(tmp_path, shards, grid=_ladder(max_epochs=0))


def test_critical_path_starts_long_chains_first():
    from slmscale.study.demo import load_preset
    from slmscale.study.expand import critical_path, dependencies

    runs = expand(load_preset("tiny"))
    by_id = {r.run_id: r for r in runs}
    prio = critical_path(runs)
    cost = {r.run_id: float(r.flops_full or r.flops) for r in runs}
    starts = {}
    for child, (parent,) in dependencies(runs).items():
        starts.setdefault(parent, []).append(child)
    for r in runs:  # a run's priority is its own cost plus its costliest chain of dependents
        assert prio[r.run_id] == pytest.approx(cost[r.run_id] + max((prio[c] for c in starts.get(r.run_id, ())),
                                                                     default=0.0))
    order = sorted(runs, key=lambda r: -prio[r.run_id])
    # the text model an interleaved run starts from is handed out before any run without dependents
    # whose own cost is smaller than that chain
    il = [r for r in runs if r.init_run]
    assert il and all(prio[r.init_run] > cost[r.init_run] for r in il)
    first = order[0]
    assert first.run_id in starts and by_id[starts[first.run_id][0]].arm == "interleaved"
    assert [r.run_id for r in order][-1] in {r.run_id for r in runs if r.run_id not in starts and not r.init_run}
