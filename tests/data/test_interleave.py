"""Interleaved speech-text sequences: span choice, unit/word alignment, mixing, shards."""

from __future__ import annotations

import numpy as np
import pytest

from slmscale.data.interleave import (InterleaveConfig, MixConfig, UnitTable, build_documents,
                                      build_interleaved_shards, choose_speech_spans, plan_segments,
                                      select_mix, span_unit_mask, surface_words, unit_times, units_from_shards)
from slmscale.data.manifest import ManifestEntry, write_manifest
from slmscale.data.shards import Shards, ShardWriter
from slmscale.errors import UserError

K = 400
FRAME_RATE = 25.0


def test_unit_times_midpoint_and_start():
    d = np.array([3, 2, 4, 1, 5])  # frames at 10 Hz: [0,3) [3,5) [5,9) [9,10) [10,15)
    np.testing.assert_allclose(unit_times(d, 10.0), [0.15, 0.4, 0.7, 0.95, 1.25])
    np.testing.assert_allclose(unit_times(d, 10.0, "start"), [0.0, 0.3, 0.5, 0.9, 1.0])
    t = unit_times(d, 10.0)
    assert span_unit_mask(t, 0.35, 0.8).tolist() == [False, True, True, False, False]
    assert span_unit_mask(unit_times(d, 10.0, "start"), 0.35, 0.8).tolist() == [False, False, True, False, False]
    # Half-open: a unit exactly at a shared boundary belongs to the later span only.
    assert span_unit_mask(t, 0.0, 0.4)[1] == False and span_unit_mask(t, 0.4, 0.9)[1] == True  # noqa: E712


@pytest.mark.parametrize("ratio", [0.3, 0.5])
def test_speech_spans_cover_the_ratio_and_stay_apart(ratio):
    lengths, words, speech = [], 0, 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(0, 120))
        spans = choose_speech_spans(n, rng, ratio, 10.0)
        covered = sum(j - i for i, j in spans)
        assert covered == min(n, int(np.floor(ratio * n + 0.5)))
        for (i, j), (i2, _) in zip(spans, spans[1:]):
            assert i < j < i2  # ordered, non-empty, at least one text word between spans
        assert all(0 <= i < j <= n for i, j in spans)
        lengths += [j - i for i, j in spans[:-1]]  # the last span may be cut to hit the count
        words += n
        speech += covered
    assert abs(speech / words - ratio) < 0.01
    assert 9.0 < np.mean(lengths) < 11.5  # Poisson(10) lengths (merges only lengthen a few)


def _sequential_doc_parts(tokens, vocab):
    """Split an interleaved document into (modality, ids) segments at switch tokens."""
    parts = []
    for t in tokens.tolist():
        if t in (vocab.speech_token_id, vocab.text_token_id):
            parts.append(["speech" if t == vocab.speech_token_id else "text", []])
        else:
            parts[-1][1].append(t)
    return parts


def _entry(uid, words, split="train", caps=False):
    text = " ".join(w.capitalize() if caps else w for w, _, _ in words) + ("." if caps else "")
    return ManifestEntry(id=uid, audio=f"{uid}.wav", duration=words[-1][2] + 0.2, sample_rate=16000,
                         text=text, voice="v1", split=split, words=words)


def _random_utterance(rng, uid, n_words, split="train"):
    """Words with pauses, and deduplicated units covering the audio; unit values unique per
    utterance so a unit's position can be recovered from its id."""
    t, words = float(rng.uniform(0.0, 0.3)), []
    for i in range(n_words):
        dur = float(rng.uniform(0.15, 0.5))
        words.append((f"w{i}", round(t, 3), round(t + dur, 3)))
        t += dur + float(rng.choice([0.0, 0.0, rng.uniform(0.02, 0.2)]))
    frames = int(np.ceil((t + 0.2) * FRAME_RATE))
    durs = []
    while sum(durs) < frames:
        durs.append(int(rng.integers(1, 5)))
    durs = np.array(durs, np.int64)
    units = rng.permutation(K)[:len(durs)].astype(np.int64)
    assert len(durs) <= K
    return _entry(uid, words, split), units, durs


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """A tiny random Llama with a BPE tokenizer, extended with K unit tokens."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmscale.model.extend import extend_vocabulary
    from slmscale.text.bpe import train_bpe

    base = tmp_path_factory.mktemp("lm")
    words = " ".join(f"w{i}" for i in range(60))
    tok = train_bpe([words, "W1 W2 w3 W4. the cat sat."] * 5, base, vocab_size=300)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(str(base))
    out = tmp_path_factory.mktemp("ext")
    vocab = extend_vocabulary(base, out, K)
    from slmscale.text.bpe import load_tokenizer

    return out, vocab, load_tokenizer(out)


def test_span_units_match_word_times(extended):
    _, vocab, tok = extended
    rng = np.random.default_rng(7)
    utts = [_random_utterance(rng, f"u{i}", int(rng.integers(5, 60))) for i in range(25)]
    table = UnitTable({e.id: (u, d) for e, u, d in utts}, K, FRAME_RATE)
    for rule in ("midpoint", "start"):
        cfg = InterleaveConfig(time_rule=rule, seed=3)
        pools, stats = build_documents([e for e, _, _ in utts], table, tok, vocab, cfg)
        assert stats["skipped"] == {} and stats["spans"] > 25
        n_speech_spans = 0
        for (e, units, durs), doc in zip(utts, pools["interleaved"]):
            assert doc.source == e.id and doc.stream == "interleaved"
            parts = _sequential_doc_parts(doc.tokens, vocab)
            assert all(a[0] != b[0] for a, b in zip(parts, parts[1:]))  # a switch at every change
            # Text segments decode to consecutive words; speech segments stand for the gaps.
            pos, frame = 0, np.concatenate([[0], np.cumsum(durs)])
            for k, (mod, ids) in enumerate(parts):
                if mod == "text":
                    ws = tok.decode(ids).split()
                    assert ws == [f"w{i}" for i in range(pos, pos + len(ws))]
                    pos += len(ws)
                    continue
                nxt = next((tok.decode(p[1]).split()[0] for p in parts[k + 1:] if p[0] == "text"), None)
                end = int(nxt[1:]) if nxt else len(e.words)
                start_s, end_s = e.words[pos][1], e.words[end - 1][2]
                # Independent check: unit i's time from its frames, by the documented rule.
                expect = [int(units[i]) + vocab.unit_offset for i in range(len(units))
                          if start_s <= (frame[i] + (durs[i] / 2 if rule == "midpoint" else 0)) / FRAME_RATE < end_s]
                assert ids == expect and ids
                n_speech_spans += 1
                pos = end
            assert pos == len(e.words)
        assert n_speech_spans == stats["spans"]
        assert abs(stats["speech_words"] / stats["words"] - 0.3) < 0.03


def test_hand_made_utterance(extended):
    """Three words at 10 Hz frames: a->{unit 0}, b->{1, 2}, pause (unit 3 dropped), c->{4}."""
    _, vocab, tok = extended
    d = np.array([3, 2, 4, 1, 5])               # midpoints 0.15 0.4 0.7 0.95 1.25
    u = np.array([11, 12, 13, 14, 15])
    words = [("a", 0.0, 0.35), ("b", 0.35, 0.8), ("c", 1.0, 1.5)]
    expect = {"a": [11], "b": [12, 13], "c": [15]}
    seen = set()
    for seed in range(12):
        cfg = InterleaveConfig(speech_ratio=0.34, seed=seed)  # one speech word of three
        segs, st = plan_segments(_entry("x", words), u, d, 10.0, cfg)
        assert st["spans"] == 1 and st["speech_words"] == 1
        i = next(k for k, s in enumerate(segs) if s.modality == "speech")
        spoken = {"a", "b", "c"} - set(" ".join(s.text for s in segs if s.modality == "text").split())
        (w,) = spoken
        assert segs[i].units.tolist() == expect[w]
        seen.add(w)
    assert seen == {"a", "b", "c"}
    # A word shorter than any unit's midpoint gap gets no unit: the span stays text.
    short = [("a", 0.0, 0.35), ("b", 0.41, 0.42), ("c", 1.0, 1.5)]
    for seed in range(12):
        segs, st = plan_segments(_entry("y", short), u, d, 10.0, InterleaveConfig(speech_ratio=0.34, seed=seed))
        if st["reverted_spans"]:
            assert [s.modality for s in segs] == ["text"] and segs[0].text == "a b c"
            break
    else:
        raise AssertionError("no seed chose the short word")


def test_select_mix_follows_token_ratios():
    rng = np.random.default_rng(0)
    lengths = {"text": rng.integers(10, 30, 500), "interleaved": rng.integers(40, 90, 500),
               "speech": rng.integers(50, 120, 500)}
    w = MixConfig().weights()
    assert abs(sum(w.values()) - 1) < 1e-12 and abs(w["interleaved"] - 0.54 / 0.99) < 1e-12
    chosen = select_mix(lengths, w, rng)
    toks = {s: lengths[s][chosen[s]].sum() for s in lengths}
    total = sum(toks.values())
    for s in lengths:
        assert abs(toks[s] / total - w[s]) < 0.01
        assert len(set(chosen[s].tolist())) == len(chosen[s])  # no document twice
    assert len(chosen["text"]) == 500  # the binding pool is used whole


def _write_corpus(tmp_path, n=14, seed=1):
    rng = np.random.default_rng(seed)
    utts = [_random_utterance(rng, f"utt{i:02d}", int(rng.integers(8, 40)), "valid" if i >= n - 3 else "train")
            for i in range(n)]
    utts[0] = (_entry("utt00", utts[0][0].words, caps=True), utts[0][1], utts[0][2])
    no_words = ManifestEntry(id="nowords", audio="x.wav", duration=1.0, sample_rate=16000, text="hi")
    write_manifest(tmp_path / "m.jsonl", [e for e, _, _ in utts] + [no_words])
    w = ShardWriter(tmp_path / "units", vocab_size=K + 2, special_tokens={"bos": K, "eos": K + 1},
                    modality="units", with_durations=True,
                    tokenizer={"kind": "units", "k": K, "dedup": True, "frame_rate": FRAME_RATE})
    for e, u, d in utts + [(no_words, np.array([1, 2]), np.array([3, 3]))]:
        w.add(u, doc_id=e.id, split=e.split, voice=e.voice, source=e.id, durations=d)
    w.close({"test": True})
    return utts


def test_build_shards_end_to_end(tmp_path, extended):
    ext_dir, vocab, tok = extended
    utts = _write_corpus(tmp_path)
    table = units_from_shards(tmp_path / "units")
    assert table.k == K and table.frame_rate == FRAME_RATE
    np.testing.assert_array_equal(table.units["utt03"][1], utts[3][2])
    extra = ["the cat sat.", "W1 W2 w3 W4."]
    meta = build_interleaved_shards(tmp_path / "m.jsonl", tmp_path / "units", ext_dir, tmp_path / "a",
                                    extra_texts=extra)
    sh = Shards(tmp_path / "a")
    assert sh.meta["modality"] == "interleaved" and sh.vocab_size == len(tok) == vocab.vocab_size
    assert sh.special_tokens["speech"] == vocab.speech_token_id and sh.special_tokens["text"] == vocab.text_token_id
    assert sh.eos_id == tok.eos_token_id and meta["unit_offset"] == vocab.unit_offset
    assert sh.meta["tokenizer"]["unit_offset"] == vocab.unit_offset and sh.meta["tokenizer"]["units"]["k"] == K
    assert meta["skipped"] == 1 and "nowords" in meta["skipped_reasons"]
    streams = meta["streams"]["train"]
    w = MixConfig().weights()
    total = sum(streams["stream_tokens"].values())
    longest = max(int(n) for n in sh.lengths)
    for s in w:
        assert abs(streams["stream_tokens"][s] - w[s] * total) <= longest
        assert streams["stream_documents"][s] > 0
    units_in = 0
    by_id = {e.id: (e, u) for e, u, _ in utts}
    for i, d in enumerate(sh.docs):
        toks = sh.doc(i)
        assert toks[0] in (vocab.speech_token_id, vocab.text_token_id)
        is_unit = (toks >= vocab.unit_offset) & (toks < vocab.unit_offset + K)
        assert int(is_unit.sum()) == d["speech_tokens"]
        units_in += d["speech_tokens"] if d["split"] == "train" else 0
        if d["stream"] == "speech":
            np.testing.assert_array_equal(toks[1:] - vocab.unit_offset, by_id[d["source"]][1])
        elif d["stream"] == "text":
            text = by_id[d["source"]][0].text if d["source"] else extra[int(d["id"][6:14])]
            assert tok.decode(toks[1:].tolist()) == text
    assert abs(meta["speech_token_share"] - units_in / sh.split_tokens("train")) < 1e-12
    assert {d["split"] for d in sh.docs} == {"train", "valid"}
    # Surface forms keep the transcript's case and punctuation when it matches the alignment.
    caps = utts[0][0]
    assert surface_words(caps) == [f"W{i}" for i in range(len(caps.words) - 1)] + [f"W{len(caps.words) - 1}."]
    odd = caps.model_copy(update={"text": "two words"})
    assert surface_words(odd) == [f"w{i}" for i in range(len(caps.words))]

    # Determinism: same inputs and seed -> same bytes (UnitTable input too); another seed differs.
    build_interleaved_shards(tmp_path / "m.jsonl", table, ext_dir, tmp_path / "b", extra_texts=extra)
    for name in ("tokens.bin", "docs.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    build_interleaved_shards(tmp_path / "m.jsonl", table, ext_dir, tmp_path / "c",
                             InterleaveConfig(seed=1), extra_texts=extra)
    assert (tmp_path / "a" / "tokens.bin").read_bytes() != (tmp_path / "c" / "tokens.bin").read_bytes()
    # Cached: unchanged inputs and config are not rebuilt.
    again = build_interleaved_shards(tmp_path / "m.jsonl", tmp_path / "units", ext_dir, tmp_path / "a",
                                     extra_texts=extra)
    assert again["created"] == meta["created"] and again["fingerprint"] == meta["fingerprint"]


def test_bad_inputs(tmp_path, extended):
    ext_dir, _, _ = extended
    _write_corpus(tmp_path, n=4)
    w = ShardWriter(tmp_path / "uni", vocab_size=10, special_tokens={"eos": 9}, modality="unigram")
    w.add(np.array([1, 2]), doc_id="x")
    w.close({})
    with pytest.raises(UserError, match="unit shards"):
        build_interleaved_shards(tmp_path / "m.jsonl", tmp_path / "uni", ext_dir, tmp_path / "o")
    table = UnitTable({}, K + 1, FRAME_RATE)
    with pytest.raises(UserError, match="same k"):
        build_interleaved_shards(tmp_path / "m.jsonl", table, ext_dir, tmp_path / "o")
    with pytest.raises(UserError, match="speech_vocab.json"):
        build_interleaved_shards(tmp_path / "m.jsonl", tmp_path / "units", tmp_path, tmp_path / "o")
    with pytest.raises(UserError, match="no usable train"):
        build_interleaved_shards(tmp_path / "m.jsonl", UnitTable({}, K, FRAME_RATE), ext_dir, tmp_path / "o")


def test_units_from_a_speech_tokenizer(tmp_path):
    """Any object with .encode(wav) -> (units, durations), .k, .frame_rate works as the unit source."""
    import soundfile as sf

    from slmscale.data.interleave import units_from_tokenizer

    class RunLengthTokenizer:  # units = rounded sample values, run-length deduplicated
        k, frame_rate = 8, 100.0

        def encode(self, wav):
            v = np.round(wav * 7).astype(np.int64)
            starts = np.flatnonzero(np.diff(np.concatenate([[-1], v])) != 0)
            return v[starts], np.diff(np.concatenate([starts, [len(v)]]))

    entries = []
    for i, values in enumerate([[0, 0, 1, 1, 1, 3], [2, 2, 2, 2]]):
        sf.write(tmp_path / f"a{i}.wav", np.array(values, np.float32) / 7, 16000, subtype="FLOAT")
        entries.append(ManifestEntry(id=f"a{i}", audio=f"a{i}.wav", duration=0.1, sample_rate=16000))
    table = units_from_tokenizer(entries, tmp_path / "m.jsonl", RunLengthTokenizer(),
                                 load_audio=lambda p: sf.read(p, dtype="float32")[0])
    assert table.k == 8 and table.frame_rate == 100.0
    assert table.units["a0"][0].tolist() == [0, 1, 3] and table.units["a0"][1].tolist() == [2, 3, 1]
    assert table.units["a1"][0].tolist() == [2] and table.units["a1"][1].tolist() == [4]


def test_units_from_a_voice_normalised_tokenizer(tmp_path):
    """Each voice's statistics come from its audio in the manifest; the quiet voice's utterance
    gets the loud voice's units."""
    from slmscale.data.interleave import units_from_tokenizer
    from slmscale.data.manifest import read_manifest
    from slmscale.units.bundle import SpeechTokenizer
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from slmscale.units.voice_norm import VoiceNorm
    from support.voices import RAW_LOGMEL, gain_corpus

    manifest = gain_corpus(tmp_path / "c")
    cfg = make_fit_config(manifest, RAW_LOGMEL, k=2, max_frames=5000).model_copy(
        update={"voice_norm": VoiceNorm(seconds=12.0)})
    fit_tokenizer(cfg, tmp_path / "tok", workers=1)
    table = units_from_tokenizer(read_manifest(manifest), manifest, SpeechTokenizer.load(tmp_path / "tok"))
    for i in range(8):
        assert table.units[f"us-f1-u{i}"][0].tolist() == table.units[f"carib-f5-u{i}"][0].tolist()
