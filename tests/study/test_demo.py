from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slmscale.errors import UserError
from slmscale.study.demo import PRESETS, load_preset, preset_spec
from slmscale.study.expand import expand

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", PRESETS)
def test_presets_validate_and_match_their_yaml(name):
    spec = load_preset(name)
    assert {a.kind for a in spec.arms} >= {"units", "text"}
    assert yaml.safe_load((ROOT / "configs" / "demo" / f"{name}.yaml").read_text()) == preset_spec(name)


def test_ci_preset_is_small_enough_for_two_minutes():
    runs = expand(load_preset("ci"))
    assert len(runs) == 14
    assert max(r.params for r in runs) < 100_000
    assert sum(r.tokens for r in runs) < 2_000_000  # ~30 s of training at ~50k tokens/s x 2 workers


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_has_a_small_interleaved_arm_at_the_textless_budgets(name):
    spec = load_preset(name)
    runs = expand(spec)
    il = [r for r in runs if r.arm == "interleaved"]
    speech = {(r.preset, r.budget): r for r in runs if r.arm == "speech"}
    text = {r.run_id: r for r in runs if r.arm == "text"}
    assert 2 <= len(il) <= (6 if name == "small" else 4) and spec.init_arm_of(spec.arms[-1]) == "text"
    for r in il:
        # Equal training compute (full FLOPs) with the textless run of that size and budget...
        assert r.compute_partner == speech[(r.preset, r.budget)].run_id
        # ...starting from the text run of that size with the largest budget.
        init = text[r.init_run]
        assert init.preset == r.preset
        assert init.tokens == max(t.tokens for t in text.values() if t.preset == r.preset)
    # Kept small: the interleaved arm adds at most ~35% to the training tokens x params of the study.
    cost = lambda rs: sum(r.flops for r in rs)  # noqa: E731
    assert cost(il) < 0.35 * cost([r for r in runs if r.arm != "interleaved"])


# The small preset's unique training tokens per arm, planned from the tiny demo's measured shards
# (2026-11-30: 772,062 train units from 6.006 h; unigram 400 re-encodes them to 559,033; text: 154
# tokens per document; interleaved: 601,188 tokens from 6.006 h).
def small_unique_tokens() -> dict[str, int]:
    from slmscale.study.demo import SMALL_HOURS

    units = 772_062 / 6.006 * SMALL_HOURS
    return {"speech": int(units), "no_story": int(units), "unigram": int(units * 559_033 / 772_062),
            "text": int(598_968 / 3882 * (8_000 + 1_730)), "interleaved": int(601_188 / 6.006 * SMALL_HOURS)}


def test_small_preset_tests_every_finding_single_epoch():
    """Every finding has its arm; the ladders span >= 10x in N and D; grid.max_epochs drops every run
    that would repeat its arm's data (and the matched runs of dropped partners), so the Chinchilla-form
    fits see single-epoch runs only; the interleaved arm keeps 2 budgets at 3 sizes (SIMS 1, 2)."""
    spec = load_preset("small")
    assert spec.fits.form == "chinchilla" and spec.grid.max_epochs == 1.0
    arms = {a.name: a for a in spec.arms}
    assert {a.kind for a in spec.arms} == {"units", "text", "unigram", "interleaved"}
    assert arms["no_story"].corpus == "no_story" and spec.data.corpora["no_story"].synth.no_story
    assert spec.data.corpora["no_story"].synth.model_dump(exclude={"no_story"}) == \
        spec.data.corpus.synth.model_dump(exclude={"no_story"})  # same hours, voices, seed
    assert {"ssc", "tsc"} <= set(arms["no_story"].tasks)  # C&M 5: semantic metrics
    assert spec.execution.jobs == 2 and spec.execution.threads_per_run == 1
    dropped: list = []
    runs = expand(spec, unique_tokens=small_unique_tokens(), dropped=dropped)
    assert all(r.epochs <= 1.0 for r in runs) and dropped
    for arm in ("speech", "text", "unigram", "no_story"):
        rs = [r for r in runs if r.arm == arm]
        assert max(r.params for r in rs) >= 10 * min(r.params for r in rs), arm
        assert max(r.tokens for r in rs) >= 10 * min(r.tokens for r in rs), arm
        assert len(rs) >= 10, arm
    il = [r for r in runs if r.arm == "interleaved"]
    assert len({r.preset for r in il}) >= 2 and len({r.budget for r in il}) >= 2 and len(il) == 6
    assert not [d for d in dropped if d["arm"] == "interleaved"]
    # The no-story control mirrors the speech arm run for run (same sizes, budgets and vocabulary).
    key = lambda r: (r.preset, r.budget, r.tokens, r.flops_full)  # noqa: E731
    assert sorted(map(key, (r for r in runs if r.arm == "no_story"))) == \
        sorted(map(key, (r for r in runs if r.arm == "speech")))
    assert len(runs) <= 60


@pytest.mark.parametrize("name", PRESETS)
def test_every_cross_arm_pair_in_the_demos_matches_in_full_flops(name):
    """Interleaved vs textless, text vs speech, unigram vs raw units: matched in flops_full (the full
    count of slmscale.model.flops for each arm's vocabulary), not merely in 6ND, over the tokens the
    trainer will actually train (whole steps). Every interleaved pair is within 2%; a pair of runs too
    short for that at whole-step granularity is within half a step."""
    from types import SimpleNamespace

    from slmscale.model.flops import flops_full
    from slmscale.model.presets import resolve_preset

    spec = load_preset(name)
    # small: as planned once its shards exist (grid.max_epochs drops runs, and their partners' runs).
    runs = expand(spec, unique_tokens=small_unique_tokens() if name == "small" else None)
    by_id = {r.run_id: r for r in runs}
    seq, batch = spec.train["train"]["seq_len"], spec.train["train"]["batch_tokens"]

    def trained(r):
        return -(-r.tokens // batch) * batch

    def full(r):  # recomputed here from the shape, independently of the planner's counter
        s = resolve_preset(r.preset)
        cfg = SimpleNamespace(hidden_size=s.d_model, num_attention_heads=s.n_heads, intermediate_size=s.ffn,
                              num_hidden_layers=s.n_layers, vocab_size=r.vocab_size)
        return flops_full(cfg, seq, trained(r))

    pairs = [(r, by_id[r.compute_partner]) for r in runs if r.compute_partner]
    assert {r.kind for r, _ in pairs} == {a.kind for a in spec.arms} - {"units"}
    for r, partner in pairs:
        assert partner.kind == "units" and (partner.preset, partner.seed, partner.budget) == (r.preset, r.seed, r.budget)
        assert r.vocab_size > partner.vocab_size and r.tokens % batch == 0
        gap = abs(full(r) / full(partner) - 1)
        assert r.flops_full == pytest.approx(full(r), rel=1e-9)
        if r.kind == "interleaved" or trained(r) >= 25 * batch:
            assert gap < 0.02, (r.run_id, partner.run_id, gap)
        else:
            assert gap <= 0.5 / (trained(r) / batch - 0.5) + 1e-9, (r.run_id, gap)  # half a step
        assert r.flops < partner.flops  # equal 6ND would have given the larger vocabulary more compute


def test_unknown_preset_is_a_user_error():
    with pytest.raises(UserError, match="choose one of ci, tiny, small"):
        preset_spec("huge")


@pytest.mark.slow
def test_ci_demo_end_to_end(tmp_path):
    """The real pipeline: synth corpus, units, text shards, benchmarks, 12 trainings, evals, fits, report."""
    import json

    import pandas as pd

    from slmscale.study.demo import run_demo

    res = run_demo("ci", str(tmp_path))
    study = tmp_path / "ci"
    df = pd.read_csv(study / "results.csv")
    assert len(df) == 14 and set(df["status"]) == {"finished"}, df[["run_id", "status", "error"]]
    assert df["loss"].gt(0).all() and df[["swuggy", "sblimp"]].notna().all().all()
    fits = json.loads((study / "fits.json").read_text())
    assert set(fits["arms"]) == {"speech", "text", "interleaved"}
    # The ci corpus is 0.1 h, so every speech run repeats it: the envelope (single-epoch runs only)
    # says what it left out instead of fitting repeated data as new.
    env = fits["arms"]["speech"]["loss_envelope"]
    assert "gamma" in env or env["excluded_repeated"]["n"] == len(df[df["arm"] == "speech"]), env
    assert "not fitted" in fits["arms"]["interleaved"]["loss_fit"]["error"]
    il = df[df["arm"] == "interleaved"]
    assert (il["flops_total"] > il["flops"]).all() and il["speech_token_share"].between(0.2, 0.9).all()
    [comp] = fits["interleaved"]
    assert comp["n_pairs"] == 2 and set(comp["summary"]) == {"swuggy", "sblimp"}
    html = (study / "report.html").read_text()
    assert "data:image/png;base64" in html and "Text vs speech" in html
    assert "Interleaved (initialised from text) vs textless" in html
    # A second run reuses every stage and every finished run.
    again = run_demo("ci", str(tmp_path))
    assert again["ran"] == 0 and set(again["states"]) == set()
    assert all(v == "cached" for v in json.loads((study / "plan.json").read_text())["data"]["stages"].values())
