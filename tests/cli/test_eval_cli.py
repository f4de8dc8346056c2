"""`slmscale eval` end to end on a text run (real BPE tokenizer, tiny random Llama)."""

from __future__ import annotations

import json

import pytest

from slmscale.cli import main as cli_main


def main(argv):
    """Run the CLI in-process; success returns, failure raises SystemExit with its code."""
    try:
        cli_main.main(argv)
    except SystemExit as ex:
        if ex.code not in (0, None):
            raise


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmscale.text.bpe import tokenizer_info, train_bpe

    root = tmp_path_factory.mktemp("evalcli")
    tok = train_bpe(["the dog runs", "the dogs run", "a cat sleeps"] * 5, root / "tok", vocab_size=300)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=4,
                                         num_key_value_heads=4, max_position_embeddings=64))
    run = root / "run"
    model.save_pretrained(run / "final")
    (run / "final" / "slmscale.json").write_text(json.dumps({
        "vocab_size": len(tok), "special_tokens": {"bos": 1, "eos": 2, "pad": 0}, "modality": "text",
        "tokenizer": tokenizer_info(tok), "shards": str(root / "shards")}))
    (run / "summary.json").write_text('{"loss": 4.0}')
    bench = root / "bench"
    for sub, recs in (("syntactic", [{"sentence_good": "the dog runs", "sentence_bad": "the dog run",
                                      "phenomenon": "agreement"},
                                     {"sentence_good": "a cat sleeps", "sentence_bad": "a cats sleeps",
                                      "phenomenon": "number"}]),
                      ("lexical", [{"sentence_good": "dog", "sentence_bad": "dag", "frequency": "high"}])):
        (bench / sub).mkdir(parents=True)
        (bench / sub / "text.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return run, bench


def test_eval_one_task_and_all(text_run, capsys):
    run, bench = text_run
    main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(bench)])
    printed = json.loads(capsys.readouterr().out)
    scores = json.loads((run / "eval" / "sblimp" / "scores.json").read_text())
    assert printed == {"sblimp": scores["macro_accuracy"]}
    assert set(scores["by_type"]) == {"agreement", "number"} and scores["modality"] == "text"
    lines = (run / "eval" / "sblimp" / "text.txt").read_text().split("\n")
    assert [ln.split()[0] for ln in lines if ln] == ["1_bad", "1_good", "2_bad", "2_good"]

    main(["eval", "--run", str(run), "--all", "--bench", str(bench), "--normalize", "sum"])
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"swuggy", "sblimp"}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["loss"] == 4.0 and summary["swuggy"] == printed["swuggy"]


@pytest.mark.parametrize("args,needle", [
    ([], "exactly one of --task"),
    (["--task", "nope"], "unknown task"),
    (["--task", "ssc"], "text.jsonl"),
    (["--task", "sblimp", "--normalize", "median"], "normalize"),
    (["--task", "sstorycloze_t2s"], "needs an interleaved speech-text run"),
    (["--task", "sblimp", "--modality", "speech"], "text run cannot score the speech"),
    (["--task", "sblimp", "--voice-seconds", "half"], "--voice-seconds must be 'all' or a positive number"),
    (["--task", "sblimp", "--voice-seconds", "0"], "--voice-seconds must be 'all' or a positive number"),
])
def test_eval_errors_are_one_line(text_run, capsys, args, needle):
    run, bench = text_run
    with pytest.raises(SystemExit) as ex:
        main(["eval", "--run", str(run), "--bench", str(bench), *args])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and "error:" in err and needle in err and "Traceback" not in err


def test_eval_on_a_second_bench_refuses_then_keeps_both_with_out(text_run, tmp_path, capsys):
    import shutil

    run, bench = text_run
    main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(bench)])
    capsys.readouterr()
    other = tmp_path / "other"
    shutil.copytree(bench, other)
    kept = (run / "eval" / "sblimp" / "text.txt").read_text()
    with pytest.raises(SystemExit) as ex:
        main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(other)])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and err.count("\n") == 1 and "--out DIR to keep both, or --replace" in err
    main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(other), "--out", str(tmp_path / "side")])
    captured = capsys.readouterr()
    assert f"-> {tmp_path / 'side' / 'sblimp'}" in captured.err
    side = json.loads((tmp_path / "side" / "sblimp" / "scores.json").read_text())
    assert json.loads(captured.out) == {"sblimp": side["macro_accuracy"]}
    assert (run / "eval" / "sblimp" / "text.txt").read_text() == kept

def test_synth_bench_cli_writes_layouts_and_rejects_bad_options(tmp_path, monkeypatch, capsys):
    import numpy as np
    import soundfile as sf

    def fake_synthesize_many(items, out_dir, workers=None, split=None, description=""):
        for it in items:
            (out_dir / it.relpath).parent.mkdir(parents=True, exist_ok=True)
            sf.write(out_dir / it.relpath, np.zeros(160, np.float32), 16000)
        return [], []

    monkeypatch.setattr("slmscale.audio.tts.synthesize_many", fake_synthesize_many)
    main(["synth", "bench", "--out", str(tmp_path), "--task", "swuggy,tstorycloze", "--n", "2",
          "--matched", "--seed", "4"])
    out = capsys.readouterr().out
    assert "swuggy: 2 items, 12 utterances" in out and "tsc: 2 items" in out
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["config"]["matched"] is True and meta["config"]["seed"] == 4
    assert (tmp_path / "lexical" / "dev" / "gold.csv").is_file()
    assert (tmp_path / "tStoryCloze" / "index.csv").is_file()
    for args, needle in ((["--voices", "us-f1", "--matched"], "not both"),
                         (["--task", "glue"], "unknown task"),
                         (["--voices", "nobody"], "unknown voice"),
                         (["--voices", ","], "--voices ',': empty"),  # never a silent default
                         (["--task", ","], "--task ',': empty")):
        with pytest.raises(SystemExit) as ex:
            main(["synth", "bench", "--out", str(tmp_path / "x"), *args])
        err = capsys.readouterr().err
        assert ex.value.code == 2 and needle in err


def _eval_kit():
    """tests/eval/conftest.py's builders (importlib import mode: test folders are not packages)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "eval" / "conftest.py"
    spec = importlib.util.spec_from_file_location("slmscale_eval_test_kit", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def interleaved_run(tmp_path_factory):
    kit = _eval_kit()
    root = tmp_path_factory.mktemp("ilv")
    model, _, _, info = kit.make_interleaved(root)
    bench = kit.build_small_bench(root / "bench", n=1, voices=("us-f1",))
    return kit.make_run(root, model, info), bench


def test_eval_interleaved_text_version_and_all(interleaved_run, capsys):
    run, bench = interleaved_run
    main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(bench), "--modality", "text"])
    printed = json.loads(capsys.readouterr().out)
    scores = json.loads((run / "eval" / "sblimp_text" / "scores.json").read_text())
    assert printed == {"sblimp_text": scores["macro_accuracy"]} and scores["variant"] == "text"
    assert not (run / "eval" / "sblimp").exists()

    main(["eval", "--run", str(run), "--all", "--bench", str(bench)])
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    keys = {"sblimp", "ssc", "sblimp_text", "sstorycloze_text", "sstorycloze_t2s", "sstorycloze_s2t"}
    assert set(printed) == keys
    summary = json.loads((run / "summary.json").read_text())
    assert {k: summary[k] for k in keys} == printed
    for k in keys:
        assert (run / "eval" / k / "meta.json").is_file()
    assert "sstorycloze_s2t:" in captured.err

    main(["eval", "--run", str(run), "--all", "--bench", str(bench), "--modality", "speech"])
    assert set(json.loads(capsys.readouterr().out)) == {"sblimp", "ssc"}
    with pytest.raises(SystemExit) as ex:
        main(["eval", "--run", str(run), "--task", "ssc_t2s", "--bench", str(bench), "--modality", "text"])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and "drop --modality" in err and "Traceback" not in err


def test_eval_prints_the_interval_and_the_comparison_with_the_audit(text_run, capsys):
    run, bench = text_run
    audit = bench / "audit.json"  # as `slmscale bench audit` writes it: the baseline got both pairs wrong
    audit.write_text(json.dumps({"tasks": {"sblimp": {"task": "sblimp", "strongest": {
        "baseline": "length_phones", "accuracy": 0.0, "by_pair": {"1": 0.0, "2": 0.0}}}}}))
    try:
        main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(bench)])
    finally:
        audit.unlink()
    err = capsys.readouterr().err
    scores = json.loads((run / "eval" / "sblimp" / "scores.json").read_text())
    lo, hi = scores["interval"]
    assert f"[{lo:.3f}, {hi:.3f}]" in err
    v = scores["surface_baseline"]
    assert v["paired"] and v["n_pairs"] == 2 and v["audit"] == str(audit)
    assert v["difference"] == pytest.approx(scores["accuracy"])
    assert f"{v['difference']:+.3f} [" in err and "against the strongest surface baseline (length_phones, 0.000; " \
        "paired over 2 pairs)" in err and v["verdict"] in err


def test_the_per_voice_line_names_each_voice_and_its_comparison():
    from slmscale.cli.eval import voice_line

    s = {"per_voice": {"a": 0.61, "b": 0.5},
         "per_voice_surface": {"a": {"difference": 0.09, "interval": [0.04, 0.14], "verdict": "above"},
                               "b": {"difference": -0.02, "interval": [-0.07, 0.03],
                                     "verdict": "not distinguishable"}}}
    assert voice_line(s) == "a 0.610 (+0.090 [+0.040, +0.140] above); b 0.500 (-0.020 [-0.070, +0.030] " \
        "not distinguishable)"
    assert voice_line({"per_voice": {"a": 0.61, "b": 0.5}}) == "a 0.610; b 0.500"  # no audit


def test_compare_prints_the_paired_difference_and_refuses_in_one_line(text_run, tmp_path, capsys):
    import shutil

    run, bench = text_run
    main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(bench), "--out", str(tmp_path / "a")])
    shutil.copytree(tmp_path / "a" / "sblimp", tmp_path / "b")
    capsys.readouterr()
    main(["compare", str(tmp_path / "a" / "sblimp"), "--against", str(tmp_path / "b"), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert got["difference"] == 0 and got["n_pairs"] == 2 and got["verdict"] == "not distinguishable"
    assert got["resample"] == "draws" and got["draws"]["a"]["count"] == 1  # text tokens: the LM is the draw
    main(["compare", str(tmp_path / "a" / "sblimp"), "--against", str(tmp_path / "b")])
    assert "sblimp: A (1 result(s))" in capsys.readouterr().out
    # Every folder after --against is group B (a shell glob), not only the first.
    shutil.copytree(tmp_path / "b", tmp_path / "b2")
    main(["compare", str(tmp_path / "a" / "sblimp"), "--against", str(tmp_path / "b"), str(tmp_path / "b2"), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert [r["result"] for r in got["b"]] == [str(tmp_path / "b"), str(tmp_path / "b2")] and len(got["a"]) == 1
    main(["eval", "--run", str(run), "--task", "sblimp", "--bench", str(bench), "--replace"])
    capsys.readouterr()
    main(["compare", str(run), "--against", str(tmp_path / "a"), "--task", "sblimp", "--json"])  # run, --out
    got = json.loads(capsys.readouterr().out)
    assert got["difference"] == 0 and got["a"][0]["result"] == str(run / "eval" / "sblimp")
    for args, needle in ((["--against", "surface"], "no audit with per-pair outcomes"),
                         (["--against", "surface", "--against", str(tmp_path / "b")], "stands alone"),
                         (["--against", str(run)], "a run folder: give RUN/eval/<key>"),
                         (["--against", str(tmp_path / "b"), "--resample", "seeds"], "--resample must be one of draws, pairs")):
        with pytest.raises(SystemExit) as ex:
            main(["compare", str(tmp_path / "a" / "sblimp"), *args])
        err = capsys.readouterr().err
        assert ex.value.code == 2 and err.count("\n") == 1 and needle in err, err


def test_against_takes_every_folder_up_to_the_next_option():
    from slmscale.cli.eval import against_takes_what_follows as spread

    assert spread(["a1", "a2", "--against", "b1", "b2", "--json"]) == \
        ["a1", "a2", "--against", "b1", "--against", "b2", "--json"]
    assert spread(["--against", "b1", "b2", "--task", "swuggy", "a1"]) == \
        ["--against", "b1", "--against", "b2", "--task", "swuggy", "a1"]  # an option's value is its own
    assert spread(["a", "--against=b1", "b2"]) == ["a", "--against=b1", "--against", "b2"]
    assert spread(["a", "--against", "b", "--", "-odd"]) == ["a", "--against", "b", "--", "-odd"]


def test_eval_all_refuses_before_scoring_any_task(text_run, tmp_path, capsys):
    import shutil

    run, bench = text_run
    mine, other = tmp_path / "run", tmp_path / "other"
    shutil.copytree(run / "final", mine / "final")
    shutil.copytree(bench, other)
    main(["eval", "--run", str(mine), "--task", "sblimp", "--bench", str(other)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as ex:  # --all scores swuggy first, then would replace sblimp
        main(["eval", "--run", str(mine), "--all", "--bench", str(bench)])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and err.count("\n") == 1 and "holds the sblimp score from" in err
    assert not (mine / "eval" / "swuggy").exists()  # refused before any work
    main(["eval", "--run", str(mine), "--all", "--bench", str(bench), "--replace"])
    assert json.loads(capsys.readouterr().out).keys() == {"swuggy", "sblimp"}
