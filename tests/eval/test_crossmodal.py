"""Cross-modal StoryCloze and text versions on an interleaved run: framing as in the interleaved
training data, ending likelihoods against a direct forward pass, restricted softmax, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from slmscale.errors import UserError
from slmscale.eval.crossmodal import (CrossEncoders, item_frame, locate_crossmodal, read_crossmodal)
from slmscale.eval.encoders import encoder_from_run
from slmscale.eval.run import evaluate_run
from slmscale.eval.submission import read_submission


def texts_by_id(bench):
    lines = (bench / "sStoryCloze" / "text.jsonl").read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def forward_logp(model, ids, allowed):
    """log p(ids[t] | ids[:t]) for every t >= 1, softmax over `allowed` only (one plain pass)."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    allowed = sorted(allowed)
    logp = torch.log_softmax(logits[:, allowed], -1)
    return [logp[t - 1, allowed.index(ids[t])].item() if ids[t] in allowed else None
            for t in range(1, len(ids))]


def ending_score(model, context, ending, switch, vocab, allowed, first_switch):
    """Mean log-probability of ending + EOS after [EOS, first_switch] + context + [switch]."""
    head = [vocab.eos_id, first_switch] + list(context) + [switch]
    ids = head + list(ending) + [vocab.eos_id]
    lp = forward_logp(model, ids, allowed)[len(head) - 1:]
    assert len(lp) == len(ending) + 1 and None not in lp
    return float(np.mean(lp))


@pytest.fixture
def run(tmp_path, interleaved, kit):
    return kit.make_run(tmp_path, interleaved.model, interleaved.info)


def test_builder_writes_crossmodal_files_the_pair_reader_ignores(interleaved):
    from slmscale.eval.formats import load_benchmark

    bench = interleaved.bench
    folder = locate_crossmodal(bench, "sstorycloze_t2s")
    assert folder == bench / "sStoryCloze" / "crossmodal"
    texts = texts_by_id(bench)
    t2s = read_crossmodal(folder, "sstorycloze_t2s")
    s2t = read_crossmodal(folder, "sstorycloze_s2t")
    assert len(t2s.pairs) == len(s2t.pairs) == 2 * 2  # 2 stories x 2 voices
    p = t2s.pairs[0]
    ctx, end = t2s.items[p.good]
    assert t2s.texts[ctx] == texts[p.pair_id]["context"]
    assert end == f"{p.voice}/{p.pair_id}_ending_correct" and t2s.audio[end].is_file()
    ctx, end = s2t.items[p.bad]
    assert ctx == f"{p.voice}/{p.pair_id}_context" and s2t.texts[end] == texts[p.pair_id]["bad_ending"]
    # the full-story pair task is unchanged by the new sub-folder
    full = load_benchmark(bench, "ssc")
    assert len(full.pairs) == 4 and not any("crossmodal" in k for k in full.audio)


def test_t2s_score_is_the_spoken_ending_loglik_given_the_text_context(run, interleaved, tmp_path):
    from slmscale.audio.io import load_audio
    from slmscale.text.bpe import load_tokenizer

    iv, vocab = interleaved, interleaved.vocab
    s = evaluate_run(run, "sstorycloze_t2s", iv.bench, cache_dir=tmp_path / "cache")
    assert s["task"] == "sstorycloze_t2s" and s["direction"] == "t2s" and s["n_pairs"] == 2
    assert s["n_voices"] == 2 and s["truncated_items"] == 0
    sub = read_submission(run / "eval" / "sstorycloze_t2s" / "crossmodal.txt")
    assert len(sub) == 8
    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    texts = texts_by_id(iv.bench)
    folder = iv.bench / "sStoryCloze" / "crossmodal"
    allowed = list(range(vocab.unit_offset, vocab.unit_offset + vocab.k)) + [vocab.eos_id]
    outcomes = {}
    for key, got in sub.items():
        voice, _, rest = key.partition("/")
        sid, _, which = rest.rpartition("_")
        context = tok(texts[sid]["context"], add_special_tokens=False)["input_ids"]
        units = iv.st.encode(load_audio(folder / voice / f"{sid}_ending_{which}.wav"))[0] + vocab.unit_offset
        want = ending_score(iv.model, context, units.tolist(), vocab.speech_token_id, vocab, allowed,
                            vocab.text_token_id)
        assert got == pytest.approx(want, abs=1e-4)
        outcomes.setdefault((sid, voice), {})[which] = got
    acc = np.mean([np.mean([float(o["correct"] > o["incorrect"]) for (i, _), o in outcomes.items() if i == sid])
                   for sid in {i for i, _ in outcomes}])
    assert s["accuracy"] == pytest.approx(acc)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["sstorycloze_t2s"] == s["headline"] and summary["loss"] == 3.2
    # The ending-only baseline: [EOS, <speech>] + ending + EOS, the same restricted softmax.
    alone = {}
    for key in sub:
        voice, _, rest = key.partition("/")
        sid, _, which = rest.rpartition("_")
        units = iv.st.encode(load_audio(folder / voice / f"{sid}_ending_{which}.wav"))[0] + vocab.unit_offset
        ids = [vocab.eos_id, vocab.speech_token_id] + units.tolist() + [vocab.eos_id]
        alone.setdefault((sid, voice), {})[which] = float(np.mean(forward_logp(iv.model, ids, allowed)[1:]))
    base = np.mean([np.mean([float(o["correct"] > o["incorrect"]) for (i, _), o in alone.items() if i == sid])
                    for sid in {i for i, _ in alone}])
    assert s["ending_only_accuracy"] == pytest.approx(base)
    assert s["context_gain"] == pytest.approx(s["accuracy"] - base)


def test_s2t_score_is_the_text_ending_loglik_given_the_spoken_context(run, interleaved, tmp_path):
    from slmscale.audio.io import load_audio
    from slmscale.text.bpe import load_tokenizer

    iv, vocab = interleaved, interleaved.vocab
    s = evaluate_run(run, "ssc_s2t", iv.bench, normalize="sum", cache_dir=tmp_path / "cache")
    assert s["task"] == "sstorycloze_s2t" and s["normalize"] == "sum"
    sub = read_submission(run / "eval" / "sstorycloze_s2t" / "crossmodal.txt")
    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    texts = texts_by_id(iv.bench)
    folder = iv.bench / "sStoryCloze" / "crossmodal"
    allowed = list(range(vocab.original_size))  # the text vocabulary (EOS included)
    for key, got in sub.items():
        voice, _, rest = key.partition("/")
        sid, _, which = rest.rpartition("_")
        units = iv.st.encode(load_audio(folder / voice / f"{sid}_context.wav"))[0] + vocab.unit_offset
        ending = tok(texts[sid]["good_ending" if which == "correct" else "bad_ending"],
                     add_special_tokens=False)["input_ids"]
        mean = ending_score(iv.model, units.tolist(), ending, vocab.text_token_id, vocab, allowed,
                            vocab.speech_token_id)
        assert got == pytest.approx(mean * (len(ending) + 1), abs=1e-3)  # sum = mean x scored tokens


def test_restricted_speech_logits_renormalise_over_speech_tokens_only(run, interleaved, tmp_path):
    """Pushing up a text token's logit cannot move a spoken ending's score; a unit token's can."""
    import copy

    iv, vocab = interleaved, interleaved.vocab
    base = evaluate_run(run, "sstorycloze_t2s", iv.bench, cache_dir=tmp_path / "c", model=iv.model)
    ref = read_submission(run / "eval" / "sstorycloze_t2s" / "crossmodal.txt")
    for row, moves in ((5, False), (vocab.text_token_id, False), (vocab.unit_offset + 3, True)):
        model = copy.deepcopy(iv.model)
        with torch.no_grad():
            model.lm_head.weight[row] *= 40.0
        evaluate_run(run, "sstorycloze_t2s", iv.bench, cache_dir=tmp_path / "c", model=model)
        got = read_submission(run / "eval" / "sstorycloze_t2s" / "crossmodal.txt")
        diff = max(abs(got[k] - ref[k]) for k in ref)
        assert (diff > 1e-3) if moves else (diff < 1e-5), (row, diff)
    assert base["tokens_cached"] is False


def test_frames_match_the_interleaved_training_data(interleaved, tmp_path):
    """Text versions and cross-modal items frame segments exactly as slmscale.data.interleave does."""
    from slmscale.data.interleave import InterleaveConfig, UnitTable, build_documents
    from slmscale.data.manifest import ManifestEntry
    from slmscale.text.bpe import load_tokenizer

    iv, vocab = interleaved, interleaved.vocab
    where = tmp_path / "slmscale.json"
    text_enc = encoder_from_run(iv.info, where, text=True)
    speech_enc = encoder_from_run(iv.info, where)
    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    words = "Mia saw a red kite. It flew high".split()
    entry = ManifestEntry(id="u1", audio="u1.wav", duration=1.6, sample_rate=16000, text=" ".join(words),
                          words=[(w, 0.2 * i, 0.2 * i + 0.2) for i, w in enumerate(words)])
    units = np.arange(16) % vocab.k
    table = UnitTable({"u1": (units, np.full(16, 4))}, vocab.k, 40.0)
    # text-only stream: <text> + transcript == our text-task frame after the document's EOS
    pools, _ = build_documents([entry], table, tok, vocab, InterleaveConfig(seed=0))
    text_doc = pools["text"][0].tokens.tolist()
    assert text_enc.prefix == [vocab.eos_id, vocab.text_token_id] and text_enc.suffix == [vocab.eos_id]
    assert text_doc == text_enc.prefix[1:] + text_enc.encode([entry.text])[0].tolist()
    # an interleaved document that is text then speech == a t2s item (context text, spoken ending)
    for seed in range(200):
        cfg = InterleaveConfig(seed=seed, speech_ratio=0.4, span_lambda=2.0)
        doc = build_documents([entry], table, tok, vocab, cfg)[0]["interleaved"][0].tokens.tolist()
        switches = [t for t in doc if t in (vocab.text_token_id, vocab.speech_token_id)]
        if switches == [vocab.text_token_id, vocab.speech_token_id]:
            break
    else:
        pytest.fail("no text-then-speech document in 200 seeds")
    cut = doc.index(vocab.speech_token_id)
    n_text = len(tok.decode(doc[1:cut]).split())
    prefix, switch, suffix, allowed = item_frame("t2s", CrossEncoders(speech_enc, text_enc))
    context = text_enc.encode([" ".join(words[:n_text])])[0].tolist()
    ending = doc[cut + 1:]
    assert prefix[1:] + context + [switch] + ending == doc
    assert suffix == [vocab.eos_id] and set(ending) <= set(allowed)
    # and the reverse direction frames a spoken context, then <text> and a text ending
    prefix, switch, suffix, allowed = item_frame("s2t", CrossEncoders(speech_enc, text_enc))
    assert prefix == [vocab.eos_id, vocab.speech_token_id] and switch == vocab.text_token_id
    assert allowed == list(range(vocab.original_size))


def test_text_version_on_an_interleaved_run(run, interleaved, tmp_path):
    from slmscale.eval.formats import load_benchmark

    iv, vocab = interleaved, interleaved.vocab
    s = evaluate_run(run, "sblimp", iv.bench, modality="text", cache_dir=tmp_path / "c")
    assert s["task"] == "sblimp_text" and s["variant"] == "text" and s["modality"] == "text"
    assert s["macro_accuracy"] == s["headline"] and len(s["by_type"]) >= 10
    assert json.loads((run / "summary.json").read_text())["sblimp_text"] == s["headline"]
    sub = read_submission(run / "eval" / "sblimp_text" / "text.txt")
    bench = load_benchmark(iv.bench, "sblimp", text=True)
    from slmscale.text.bpe import load_tokenizer

    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    allowed = list(range(vocab.original_size))
    for key in sorted(sub)[:6]:
        ids = tok(bench.texts[key], add_special_tokens=False)["input_ids"]
        full = [vocab.eos_id, vocab.text_token_id] + ids + [vocab.eos_id]
        assert sub[key] == pytest.approx(np.mean(forward_logp(iv.model, full, allowed)[1:]), abs=1e-4)
    # the same thing asked by name; the speech version keeps its own key
    s2 = evaluate_run(run, "sblimp_text", iv.bench, cache_dir=tmp_path / "c")
    assert s2["task"] == "sblimp_text" and s2["headline"] == s["headline"] and s2["tokens_cached"]


def test_wrong_modality_and_missing_files_are_one_line_errors(run, interleaved, tmp_path, kit, llama):
    iv = interleaved
    units_run = kit.make_run(tmp_path / "u", llama)
    for task, kwargs, needle in (
            ("sstorycloze_t2s", {}, "needs an interleaved speech-text run, this run's modality is 'units'"),
            ("sblimp_text", {}, "needs a text or interleaved run"),
            ("sblimp", {"modality": "text"}, "needs a text or interleaved run")):
        with pytest.raises(UserError, match=needle) as err:
            evaluate_run(units_run, task, iv.bench, **kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="drop --modality"):
        evaluate_run(run, "tstorycloze_s2t", iv.bench, modality="text")
    with pytest.raises(UserError, match="cannot be scored with --modality speech"):
        evaluate_run(run, "sblimp_text", iv.bench, modality="speech")
    with pytest.raises(UserError, match="--modality must be one of"):
        evaluate_run(run, "sblimp", iv.bench, modality="video")
    # a benchmark built before cross-modal files existed (or a real set without them)
    old = tmp_path / "old"
    shutil.copytree(iv.bench / "sStoryCloze", old / "sStoryCloze")
    shutil.rmtree(old / "sStoryCloze" / "crossmodal")
    with pytest.raises(UserError, match="this benchmark has no cross-modal files .*slmscale synth bench") as err:
        evaluate_run(run, "sstorycloze_s2t", old)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="no cross-modal files"):
        evaluate_run(run, "tstorycloze_t2s", iv.bench)  # only sStoryCloze was built
    # text lacking the context / ending fields, and a missing wav
    shutil.copytree(iv.bench / "sStoryCloze" / "crossmodal", old / "sStoryCloze" / "crossmodal")
    lines = (old / "sStoryCloze" / "text.jsonl").read_text().splitlines()
    recs = [{k: v for k, v in json.loads(x).items() if k != "bad_ending"} for x in lines]
    (old / "sStoryCloze" / "text.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(UserError, match="text.jsonl:1: cross-modal StoryCloze needs fields"):
        evaluate_run(run, "sstorycloze_t2s", old)
    (old / "sStoryCloze" / "text.jsonl").write_text("".join(x + "\n" for x in lines))
    next((old / "sStoryCloze" / "crossmodal").rglob("*_context.wav")).unlink()
    with pytest.raises(UserError, match="1 missing"):
        evaluate_run(run, "sstorycloze_s2t", old)
    assert not (run / "eval" / "sstorycloze_s2t").exists()


def test_truncation_cuts_the_context_not_the_ending(run, interleaved, tmp_path):
    from slmscale.text.bpe import load_tokenizer

    iv = interleaved
    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    longest = max(len(tok(r[k], add_special_tokens=False)["input_ids"])
                  for r in texts_by_id(iv.bench).values() for k in ("good_ending", "bad_ending"))
    full = evaluate_run(run, "sstorycloze_s2t", iv.bench, cache_dir=tmp_path / "c")
    # room for [EOS, <speech>], two context units, <text>, the longest ending and EOS
    (run / "config.yaml").write_text(f"train:\n  seq_len: {longest + 6}\n")
    cut = evaluate_run(run, "sstorycloze_s2t", iv.bench, cache_dir=tmp_path / "c", truncation="cut")
    assert full["truncated_items"] == 0 and cut["truncated_items"] == cut["n_items"] == 8
    assert cut["scored_tokens"] == full["scored_tokens"]  # every ending token is still scored
    assert cut["max_length"] == longest + 6


def test_slamkit_protocol_scores_the_whole_sequence_unrestricted(run, interleaved, tmp_path):
    """slamkit: context + switch + ending scored by mean NLL, full softmax, no terminal EOS."""
    from slmscale.audio.io import load_audio
    from slmscale.text.bpe import load_tokenizer

    iv, vocab = interleaved, interleaved.vocab
    s = evaluate_run(run, "sstorycloze_t2s", iv.bench, cache_dir=tmp_path / "cache", protocol="slamkit")
    assert s["protocol"] == "slamkit" and s["normalize"] == "mean"
    sub = read_submission(run / "eval" / "sstorycloze_t2s" / "crossmodal.txt")
    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    texts = texts_by_id(iv.bench)
    folder = iv.bench / "sStoryCloze" / "crossmodal"
    every = range(iv.model.get_output_embeddings().weight.shape[0])
    for key, got in list(sub.items())[:3]:
        voice, _, rest = key.partition("/")
        sid, _, which = rest.rpartition("_")
        context = tok(texts[sid]["context"], add_special_tokens=False)["input_ids"]
        units = iv.st.encode(load_audio(folder / voice / f"{sid}_ending_{which}.wav"))[0] + vocab.unit_offset
        ids = [vocab.eos_id, vocab.text_token_id] + list(context) + [vocab.speech_token_id] + units.tolist()
        assert got == pytest.approx(float(np.mean(forward_logp(iv.model, ids, every)[1:])), abs=1e-4)
