"""Named scoring protocols: EOS, normalisation and the record in scores.json; truncation handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from slmscale.errors import UserError
from slmscale.eval.protocols import DEFAULT_PROTOCOL, PROTOCOLS, get_protocol
from slmscale.eval.run import evaluate_run

from eval.test_run import build_sblimp


def logprobs(model, toks, eos: bool):
    ids = torch.tensor([[49] + list(toks) + ([49] if eos else [])])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return [logp[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1])]


def test_protocol_table_and_errors():
    assert DEFAULT_PROTOCOL == "zerospeech" and set(PROTOCOLS) == {"zerospeech", "cm2024", "slamkit"}
    assert get_protocol(None).eos and not get_protocol("cm2024").eos
    assert not get_protocol("slamkit").restrict and get_protocol("slamkit").score_context
    assert get_protocol("zerospeech").resolve_normalize("sum") == "sum"
    assert get_protocol("cm2024").resolve_normalize(None) == "mean"
    with pytest.raises(UserError, match="cm2024 scores by mean"):
        get_protocol("cm2024").resolve_normalize("sum")
    with pytest.raises(UserError, match="unknown --protocol"):
        get_protocol("blimp")


def test_cm2024_scores_without_eos_and_is_recorded(tmp_path, llama, kit):
    run = kit.make_run(tmp_path, llama)
    bench = tmp_path / "bench"
    items = build_sblimp(kit, bench, n_pairs=2)
    s = evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder(), protocol="cm2024")
    sub = (run / "eval" / "sblimp" / "dev.txt").read_text().split("\n")
    got = {line.split()[0]: float(line.split()[1]) for line in sub if line}
    for k, toks in items.items():
        assert got[k] == pytest.approx(np.mean(logprobs(llama, toks, eos=False)), abs=1e-5)
    assert s["scored_tokens"] == sum(len(t) for t in items.values())  # no EOS counted
    saved = json.loads((run / "eval" / "sblimp" / "scores.json").read_text())
    assert saved["protocol"] == "cm2024" and saved["protocol_detail"]["eos"] is False
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_protocol"] == "cm2024"
    assert summary["eval_scoring"] == {"sblimp": {"protocol": "cm2024", "truncation": "slide"}}
    z = evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())
    assert z["protocol"] == "zerospeech" and z["scored_tokens"] == s["scored_tokens"] + len(items)
    with pytest.raises(UserError, match="drop --normalize sum"):
        evaluate_run(run, "sblimp", bench, "sum", encoder=kit.FakeEncoder(), protocol="slamkit")


def test_truncation_is_refused_or_recorded(tmp_path, llama, kit, capsys):
    run = kit.make_run(tmp_path, llama)
    (run / "config.yaml").write_text("train:\n  seq_len: 8\n")
    bench = tmp_path / "bench"
    build_sblimp(kit, bench, n_pairs=2)
    with pytest.raises(UserError, match="longer than the model's context"):
        evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder(), truncation="refuse")
    s = evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder(), truncation="cut")
    assert s["truncated_items"] > 0 and s["truncation"] == "cut"
    assert "warning" in capsys.readouterr().err
    slid = evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder())  # the default slides
    assert slid["truncation"] == "slide" and slid["truncated_items"] == s["truncated_items"]
    assert slid["scored_tokens"] > s["scored_tokens"]  # every token is scored, none cut
    assert "sliding window" in capsys.readouterr().err
    with pytest.raises(UserError, match="--truncation"):
        evaluate_run(run, "sblimp", bench, encoder=kit.FakeEncoder(), truncation="sideways")
