"""evaluate_run on a fabricated run folder and a small sBLIMP/sWUGGY benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from slmscale.errors import UserError
from slmscale.eval.formats import GOLD_COLUMNS, write_csv
from slmscale.eval.run import available_tasks, evaluate_run, merge_summary
from slmscale.eval.submission import read_submission


def build_sblimp(kit, root, seed=0, n_pairs=3, voices=("v1", "v2")):
    rng = np.random.default_rng(seed)
    d = root / "syntactic" / "dev"
    rows, items = [], {}
    for t in ("agr", "neg"):
        for i in range(n_pairs):
            pid = f"{t}{i}"
            for v in voices:
                for c in (1, 0):
                    fn = f"{pid}_{v}_{c}"
                    toks = rng.integers(0, 48, size=rng.integers(3, 12))
                    kit.write_token_wav(d / f"{fn}.wav", toks)
                    items[fn] = toks
                    rows.append(dict(id=pid, filename=fn, voice=v, type=t, subtype="x", correct=c,
                                     transcription=""))
    write_csv(d / "gold.csv", GOLD_COLUMNS["sblimp"], rows)
    return items


def mean_logprob(model, toks):
    ids = torch.tensor([[49] + list(toks) + [49]])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return float(np.mean([logp[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1])]))


def test_evaluate_run_writes_scores_submission_and_summary(tmp_path, llama, kit):
    run = kit.make_run(tmp_path, llama)
    bench = tmp_path / "bench"
    items = build_sblimp(kit, bench)
    enc = kit.FakeEncoder()
    s = evaluate_run(run, "sblimp", bench, encoder=enc, batch_size=4)

    # Expected accuracy, by hand: per phenomenon, mean over pairs of mean over voices.
    ref = {k: mean_logprob(llama, v) for k, v in items.items()}
    per_type = {}
    for t in ("agr", "neg"):
        pair_acc = []
        for i in range(3):
            outs = []
            for v in ("v1", "v2"):
                g, b = ref[f"{t}{i}_{v}_1"], ref[f"{t}{i}_{v}_0"]
                outs.append(1.0 if g > b else 0.5 if g == b else 0.0)
            pair_acc.append(np.mean(outs))
        per_type[t] = np.mean(pair_acc)
    assert s["by_type"] == pytest.approx(per_type)
    assert s["headline"] == pytest.approx(np.mean(list(per_type.values())))
    assert s["n_pairs"] == 6 and s["n_voices"] == 2 and s["n_items"] == 24
    assert s["interval"][0] <= s["headline"] <= s["interval"][1]
    assert "surface_baseline" not in s  # the bench has no audit

    out = run / "eval" / "sblimp"
    assert json.loads((out / "scores.json").read_text())["macro_accuracy"] == pytest.approx(s["headline"])
    sub = read_submission(out / "dev.txt")
    assert set(sub) == set(items)
    for k in items:
        assert sub[k] == pytest.approx(ref[k], abs=1e-5)
    assert (out / "meta.json").is_file()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["sblimp"] == pytest.approx(s["headline"])
    assert summary["loss"] == 3.2 and summary["status"] == "finished"  # other keys kept

    # Second evaluation: tokens come from the cache, the encoder is not called.
    enc2 = kit.FakeEncoder()
    s2 = evaluate_run(run, "sblimp", bench, encoder=enc2, normalize="sum")
    assert enc2.calls == 0 and s2["tokens_cached"] is True
    sub2 = read_submission(out / "dev.txt")
    for k, toks in items.items():
        assert sub2[k] == pytest.approx(ref[k] * (len(toks) + 1), abs=1e-4)


def test_a_voice_normalised_encoder_records_its_voice_statistics(tmp_path, llama, kit):
    """How each benchmark voice got its statistics is part of the result: meta.json, scores.json
    and summary.json's eval_scoring say it (a study re-scores when it changes)."""
    from slmscale.eval.protocols import scoring_record

    run = kit.make_run(tmp_path, llama)
    bench = tmp_path / "bench"
    build_sblimp(kit, bench)
    enc = kit.FakeEncoder()
    enc.voice_statistics = "180 s"
    enc.tokens_from = "checkpoint:abc"
    evaluate_run(run, "sblimp", bench, encoder=enc, batch_size=4)
    out = run / "eval" / "sblimp"
    assert json.loads((out / "meta.json").read_text())["config"]["voice_statistics"] == "180 s"
    # where the tokens come from, so that `slmscale compare` knows which LMs share a draw
    assert json.loads((out / "meta.json").read_text())["config"]["tokens_from"] == "checkpoint:abc"
    assert json.loads((out / "scores.json").read_text())["voice_statistics"] == "180 s"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_scoring"]["sblimp"] == scoring_record("zerospeech", "slide", "180 s")
    evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder(), batch_size=4)  # not voice-normalised
    assert "voice_statistics" not in json.loads((out / "scores.json").read_text())
    assert json.loads((out / "meta.json").read_text())["config"]["voice_statistics"] is None
    assert json.loads((run / "summary.json").read_text())["eval_scoring"]["sblimp"] == scoring_record("zerospeech")


def test_cache_invalidated_when_a_wav_changes(tmp_path, llama, kit):
    run = kit.make_run(tmp_path, llama)
    bench = tmp_path / "bench"
    build_sblimp(kit, bench, n_pairs=1)
    evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())
    kit.write_token_wav(bench / "syntactic" / "dev" / "agr0_v1_1.wav", [1, 2, 3, 4, 5, 6, 7, 8, 9])
    enc = kit.FakeEncoder()
    s = evaluate_run(run, "sblimp", bench, encoder=enc)
    assert enc.calls > 0 and s["tokens_cached"] is False


def test_unreadable_wav_skips_its_pairs_and_lists_them(tmp_path, llama, kit):
    run = kit.make_run(tmp_path, llama)
    bench = tmp_path / "bench"
    build_sblimp(kit, bench, n_pairs=2)
    (bench / "syntactic" / "dev" / "neg1_v2_0.wav").write_bytes(b"not a wav")
    s = evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())
    assert s["unreadable_items"] == ["neg1_v2_0"]
    assert s["skipped_pairs"] == ["neg1/v2"]
    assert s["n_comparisons"] == 7


def test_bad_inputs_are_user_errors(tmp_path, llama, kit):
    with pytest.raises(UserError, match="no final/slmscale.json"):
        evaluate_run(tmp_path, "sblimp", tmp_path, encoder=kit.FakeEncoder())
    run = kit.make_run(tmp_path, llama)
    with pytest.raises(UserError, match="normalize"):
        evaluate_run(run, "sblimp", tmp_path, normalize="max", encoder=kit.FakeEncoder())
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="syntactic/dev/gold.csv"):
        evaluate_run(run, "sblimp", tmp_path / "empty", encoder=kit.FakeEncoder())
    with pytest.raises(UserError, match="unknown task"):
        evaluate_run(run, "glue", tmp_path, encoder=kit.FakeEncoder())


def test_merge_summary_keeps_existing_keys_and_nan_becomes_null(tmp_path):
    (tmp_path / "summary.json").write_text('{"loss": 1.0, "swuggy": 0.5}')
    merge_summary(tmp_path, {"sblimp": 0.6})
    merge_summary(tmp_path, {"ssc": float("nan")})
    assert json.loads((tmp_path / "summary.json").read_text()) == {"loss": 1.0, "swuggy": 0.5,
                                                                   "sblimp": 0.6, "ssc": None}


def test_available_tasks(tmp_path, kit):
    build_sblimp(kit, tmp_path, n_pairs=1)
    assert available_tasks(tmp_path) == ["sblimp"]


def test_context_length_follows_the_training_window(tmp_path, llama, kit):
    from slmscale.eval.run import context_length

    run = kit.make_run(tmp_path, llama)
    assert context_length(run, llama) == 256  # max_position_embeddings of the tiny model
    (run / "config.yaml").write_text("train:\n  seq_len: 8\n")
    assert context_length(run, llama) == 8
    bench = tmp_path / "bench"
    build_sblimp(kit, bench, n_pairs=1)
    s = evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())
    assert s["max_length"] == 8 and s["truncated_items"] > 0


@pytest.mark.parametrize("task,modality,run_kind,expect", [
    ("sblimp", None, "units", ("sblimp", "speech", "sblimp")),
    ("sblimp", None, "text", ("sblimp", "text", "sblimp")),          # a text run's own version
    ("sblimp", "text", "text", ("sblimp", "text", "sblimp")),
    ("sblimp_text", None, "text", ("sblimp", "text", "sblimp_text")),  # asked by name
    ("sstorycloze", None, "interleaved", ("ssc", "speech", "ssc")),
    ("sstorycloze", "text", "interleaved", ("ssc", "text", "sstorycloze_text")),
    ("ssc_text", None, "interleaved", ("ssc", "text", "sstorycloze_text")),
    ("swuggy", "speech", "interleaved", ("swuggy", "speech", "swuggy")),
    ("tsc_t2s", None, "interleaved", ("tsc", "t2s", "tstorycloze_t2s")),
])
def test_resolve_task_keys(task, modality, run_kind, expect):
    from slmscale.eval.run import resolve_task

    assert resolve_task(task, modality, run_kind) == expect


def test_resolve_task_rejects_impossible_combinations():
    from slmscale.eval.run import resolve_task

    for args, needle in ((("sblimp", "speech", "text"), "text run cannot score the speech"),
                         (("sstorycloze_s2t", None, "unigram"), "needs an interleaved"),
                         (("swuggy_text", None, "unigram"), "needs a text or interleaved run")):
        with pytest.raises(UserError, match=needle):
            resolve_task(*args)


def test_run_tasks_for_each_kind_of_run(interleaved):
    from slmscale.eval.run import run_tasks

    b = interleaved.bench  # sblimp + sStoryCloze with cross-modal files
    assert run_tasks(b, "units") == ["sblimp", "ssc"]
    assert run_tasks(b, "text") == ["sblimp", "ssc"]
    assert run_tasks(b, "interleaved") == ["sblimp", "ssc", "sblimp_text", "sstorycloze_text",
                                           "sstorycloze_t2s", "sstorycloze_s2t"]
    assert run_tasks(b, "interleaved", modality="text") == ["sblimp_text", "sstorycloze_text"]
    assert run_tasks(b, "interleaved", modality="speech") == ["sblimp", "ssc"]
    with pytest.raises(UserError, match="no text versions"):
        run_tasks(b, "units", modality="text")


def test_a_second_bench_never_replaces_a_result_silently(tmp_path, llama, kit):
    from slmscale.locks import LockHeld, exclusive

    run = kit.make_run(tmp_path, llama)
    bench_a, bench_b = tmp_path / "a", tmp_path / "b"
    build_sblimp(kit, bench_a, seed=0)
    items_b = build_sblimp(kit, bench_b, seed=1)
    s_a = evaluate_run(run, "sblimp", bench_a, encoder=kit.FakeEncoder())
    own = run / "eval" / "sblimp"
    before = {p.name: p.read_bytes() for p in own.iterdir()}
    summary_before = (run / "summary.json").read_text()

    # Same bench again (also named by its task folder): allowed, same result.
    assert evaluate_run(run, "sblimp", bench_a / "syntactic" / "dev",
                        encoder=kit.FakeEncoder())["headline"] == s_a["headline"]
    with pytest.raises(UserError, match=r"holds the sblimp score from .*a/syntactic/dev; scoring .*b/"
                                        r"syntactic/dev would replace it: give --out DIR"):
        evaluate_run(run, "sblimp", bench_b, encoder=kit.FakeEncoder())
    assert {p.name: p.read_bytes() for p in own.iterdir()}.keys() == before.keys()
    assert (own / "dev.txt").read_bytes() == before["dev.txt"]
    assert (run / "summary.json").read_text() == summary_before

    # A side score: its own folder, the run's result and summary untouched.
    s_b = evaluate_run(run, "sblimp", bench_b, encoder=kit.FakeEncoder(), out=tmp_path / "on_b")
    assert set(read_submission(tmp_path / "on_b" / "sblimp" / "dev.txt")) == set(items_b)
    assert json.loads((tmp_path / "on_b" / "sblimp" / "meta.json").read_text())["config"]["source"] == \
        str((bench_b / "syntactic" / "dev").resolve())
    assert (own / "dev.txt").read_bytes() == before["dev.txt"]
    assert (run / "summary.json").read_text() == summary_before

    # --replace: the run's result and summary entry now come from bench b.
    evaluate_run(run, "sblimp", bench_b, encoder=kit.FakeEncoder(), replace=True)
    assert set(read_submission(own / "dev.txt")) == set(items_b)
    assert json.loads((run / "summary.json").read_text())["sblimp"] == pytest.approx(s_b["headline"])

    # A concurrent eval of the same result fails at once instead of interleaving files.
    with exclusive(run / "eval", "an eval of sblimp", name=".sblimp.lock"):
        with pytest.raises(LockHeld, match="an eval of sblimp is already writing here"):
            evaluate_run(run, "sblimp", bench_b, encoder=kit.FakeEncoder())


def test_results_folder_with_other_files_or_an_older_meta(tmp_path, llama, kit):
    run = kit.make_run(tmp_path, llama)
    bench = tmp_path / "bench"
    build_sblimp(kit, bench, n_pairs=1)
    evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())
    own = run / "eval" / "sblimp"
    # A result written before the task folder was recorded names the bench root only: still the same.
    meta = json.loads((own / "meta.json").read_text())
    del meta["config"]["source"]
    (own / "meta.json").write_text(json.dumps(meta))
    evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())
    # Files no eval writes are never overwritten or deleted.
    (own / "notes.md").write_text("mine")
    with pytest.raises(UserError, match=r"holds notes.md, which no eval writes"):
        evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder(), replace=True)
    assert (own / "notes.md").read_text() == "mine"
