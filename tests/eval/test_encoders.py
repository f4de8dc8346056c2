"""Encoders built from a run's slmscale.json, with a real (small) MFCC speech tokenizer."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.eval.encoders import UnitsEncoder, encoder_from_run, frame


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    """A real MFCC tokenizer bundle whose centroids are frames of the audio (no k-means: fast)."""
    import soundfile as sf

    from slmscale.artifacts import write_meta
    from slmscale.units.bundle import KIND, SpeechTokenizer, TokenizerConfig
    from slmscale.units.encoders import EncoderConfig, build_encoder
    from support.babble import babble

    root = tmp_path_factory.mktemp("tok")
    wavs = []
    for i in range(4):
        wavs.append(root / f"u{i}.wav")
        sf.write(wavs[-1], babble(0.8, seed=i), 16000)
    ecfg = EncoderConfig(name="mfcc", frame_rate=50)
    feats = build_encoder(ecfg, device="cpu").features(babble(1.0, seed=9))
    centroids = feats[np.random.default_rng(0).choice(len(feats), 16, replace=False)]
    st = SpeechTokenizer(TokenizerConfig(encoder=ecfg, k=16, dim=feats.shape[1], frame_rate=50), centroids)
    st.save(root / "tok")
    write_meta(root / "tok", KIND, {"test": True})
    return root / "tok", wavs


def test_frame_mirrors_the_training_stream():
    assert frame({"bos": 5, "eos": 6}) == ([6], [6])
    assert frame({"bos": 5}) == ([5], [])
    assert frame({}) == ([], [])


def test_units_encoder_matches_the_tokenizer(tok, tmp_path):
    from slmscale.audio.io import load_audio
    from slmscale.units.bundle import SpeechTokenizer

    tokdir, wavs = tok
    st = SpeechTokenizer.load(tokdir)
    info = {"modality": "units", "special_tokens": st.special_tokens, "tokenizer": st.shard_info()}
    enc = encoder_from_run(info, tmp_path / "slmscale.json")
    assert isinstance(enc, UnitsEncoder) and enc.modality == "audio"
    assert enc.prefix == [17] and enc.suffix == [17] and enc.allowed_tokens is None
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....")
    out = enc.encode(wavs[:3] + [bad])
    assert out[3] is None
    for path, ids in zip(wavs[:3], out):
        expect, _ = st.encode(load_audio(path))
        np.testing.assert_array_equal(ids, expect)
        assert ids.max() < 16
    # the cache key follows the tokenizer identity and the dedup setting
    assert encoder_from_run(info, tmp_path).key == enc.key
    nodedup = encoder_from_run({**info, "tokenizer": {**info["tokenizer"], "dedup": False}}, tmp_path)
    assert nodedup.key != enc.key
    assert all(len(a) >= len(b) for a, b in zip(nodedup.encode(wavs[:2]), out[:2]))
    # Where the tokens come from (results record it): an MFCC tokenizer is its own draw (its
    # k-means seed); a tokenizer of a pretrained encoder shares the encoder's draw with its others.
    assert enc.tokens_from == f"tokenizer:{st.fingerprint()}" == nodedup.tokens_from
    hub = st.config.model_copy(update={"encoder": st.config.encoder.model_copy(update={"checkpoint_sha256": "c0ffee"})})
    st.config = hub
    assert UnitsEncoder(st, {"eos": 17}).tokens_from == "checkpoint:c0ffee"


def test_interleaved_encoder_offsets_units_and_restricts_logits(tok, tmp_path):
    from slmscale.text.interleaved_vocab import SpeechVocab
    from slmscale.units.bundle import SpeechTokenizer

    tokdir, wavs = tok
    sv = SpeechVocab(k=16, unit_offset=100, unit_format="<u{}>", speech_token="<speech>", speech_token_id=116,
                     text_token="<text>", text_token_id=117, original_size=100, vocab_size=118,
                     embedding_rows=118, eos_id=2, bos_id=1, pad_id=0)
    vocab_dir = tmp_path / "vocab"
    vocab_dir.mkdir()
    (vocab_dir / "speech_vocab.json").write_text(json.dumps(asdict(sv)))
    info = {"modality": "interleaved", "special_tokens": sv.special_tokens(),
            "tokenizer": {"kind": "interleaved", "path": str(vocab_dir), "units_path": str(tokdir)}}
    enc = encoder_from_run(info, tmp_path / "slmscale.json")
    assert enc.prefix == [2, 116] and enc.suffix == [2]
    assert enc.allowed_tokens == list(range(100, 116)) + [2]
    st = SpeechTokenizer.load(tokdir)
    from slmscale.audio.io import load_audio
    from slmscale.eval.cache import encode_benchmark
    from slmscale.eval.formats import Benchmark

    units = st.encode(load_audio(wavs[0]))[0]
    np.testing.assert_array_equal(enc.encode(wavs[:1])[0], units)
    assert enc.shift == 100
    # the cache holds units before the offset: the textless encoder's cache file serves this one
    plain = encoder_from_run({"modality": "units", "special_tokens": st.special_tokens, "tokenizer": st.shard_info()},
                             tmp_path / "slmscale.json")
    assert plain.key == enc.key and plain.shift == 0
    bench = Benchmark(task="swuggy", split="dev", source=tmp_path / "bench", pairs=[],
                      audio={w.stem: w for w in wavs[:2]})
    units_ids, _, cached = encode_benchmark(bench, plain, tmp_path / "cache")
    assert not cached
    model_ids, _, cached = encode_benchmark(bench, enc, tmp_path / "cache")
    assert cached and sorted(model_ids) == sorted(units_ids)
    for key, ids in units_ids.items():
        np.testing.assert_array_equal(model_ids[key], ids + 100)
    np.testing.assert_array_equal(units_ids[wavs[0].stem], units)


def test_unknown_modality_and_missing_paths(tmp_path):
    with pytest.raises(UserError, match="cannot evaluate modality 'video'"):
        encoder_from_run({"modality": "video"}, tmp_path / "slmscale.json")
    with pytest.raises(UserError, match="tokenizer.path missing"):
        encoder_from_run({"modality": "units", "tokenizer": {}}, tmp_path / "slmscale.json")
    with pytest.raises(UserError, match="unigram_path"):
        encoder_from_run({"modality": "unigram", "tokenizer": {"path": "x"}}, Path("s.json"))


def test_interleaved_run_as_the_shards_describe_it(interleaved, tmp_path):
    """tokenizer.units (nested, as slmscale.data.interleave writes it) gives the speech side; text=True
    the text side: <text> frame, the original vocabulary as the softmax subset."""
    from slmscale.eval.encoders import InterleavedTextEncoder
    from slmscale.text.bpe import load_tokenizer

    iv, v = interleaved, interleaved.vocab
    speech = encoder_from_run(iv.info, tmp_path / "slmscale.json")
    assert isinstance(speech, UnitsEncoder) and speech.offset == v.unit_offset
    assert speech.switch_token == v.speech_token_id and speech.dedup == iv.st.dedup
    text = encoder_from_run(iv.info, tmp_path / "slmscale.json", text=True)
    assert isinstance(text, InterleavedTextEncoder) and text.modality == "text"
    assert text.prefix == [v.eos_id, v.text_token_id] and text.suffix == [v.eos_id]
    assert text.allowed_tokens == list(range(v.original_size)) and text.switch_token == v.text_token_id
    tok = load_tokenizer(iv.info["tokenizer"]["path"])
    ids = text.encode(["The cat sat."])[0]
    assert ids.tolist() == tok("The cat sat.", add_special_tokens=False)["input_ids"] and ids.max() < v.original_size
    assert text.key != speech.key
    assert speech.tokens_from.startswith("tokenizer:") and text.tokens_from.startswith("text:")
    nested = {**iv.info, "tokenizer": {k: val for k, val in iv.info["tokenizer"].items() if k != "units"}}
    with pytest.raises(UserError, match="tokenizer.units.path"):
        encoder_from_run(nested, tmp_path / "slmscale.json")
    with pytest.raises(UserError, match="has no text vocabulary"):
        encoder_from_run({"modality": "units", "tokenizer": {"path": "x"}}, tmp_path, text=True)


def test_voice_normalised_units_take_each_voices_statistics_from_the_benchmark(tmp_path, capsys):
    """A benchmark said by a loud and a quiet voice: with per-voice whitening the same item gets
    the same units in both voices; a voice with too little audio fails its items, listed."""
    from slmscale.eval.cache import encode_benchmark
    from slmscale.eval.formats import Benchmark, Pair
    from slmscale.units.bundle import SpeechTokenizer
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from slmscale.units.voice_norm import VoiceNorm
    from support.voices import RAW_LOGMEL, gain_corpus

    manifest = gain_corpus(tmp_path / "c")
    cfg = make_fit_config(manifest, RAW_LOGMEL, k=2, max_frames=5000).model_copy(
        update={"voice_norm": VoiceNorm(seconds=12.0)})
    fit_tokenizer(cfg, tmp_path / "tok", workers=1)
    audio = {f"{v}-u{i}": manifest.parent / "audio" / f"{v}-u{i}.wav" for v in ("us-f1", "carib-f5") for i in range(8)}
    pairs = [Pair(f"p{i}", v, f"{v}-u{i}", f"{v}-u{i + 1}") for v in ("us-f1", "carib-f5") for i in (0, 2, 4, 6)]
    bench = Benchmark("swuggy", "dev", tmp_path / "bench", pairs, audio=audio)
    enc = UnitsEncoder(SpeechTokenizer.load(tmp_path / "tok"), {"eos": 2}, dedup=False)
    tokens, failed, cached = encode_benchmark(bench, enc, tmp_path / "cache")
    assert not failed and not cached and len(tokens) == 16
    for i in range(8):
        loud, quiet = tokens[f"us-f1-u{i}"], tokens[f"carib-f5-u{i}"]
        assert len(loud) == len(quiet) and (loud == quiet).mean() > 0.95
    assert encode_benchmark(bench, enc, tmp_path / "cache")[2]  # served from the cache
    # The quiet voice says only one item: too little audio for its statistics.
    short = Benchmark("swuggy", "dev", tmp_path / "bench2", pairs[:4] + [Pair("q", "carib-f5", "carib-f5-u0", "carib-f5-u1")],
                      audio={k: p for k, p in audio.items() if k.startswith("us-f1") or k in ("carib-f5-u0", "carib-f5-u1")})
    enc = UnitsEncoder(SpeechTokenizer.load(tmp_path / "tok"), {"eos": 2}, dedup=False)
    capsys.readouterr()
    tokens, failed, _ = encode_benchmark(short, enc, tmp_path / "cache2")
    assert sorted(failed) == ["carib-f5-u0", "carib-f5-u1"] and len(tokens) == 8
    assert "voice 'carib-f5' has 6.0 s of usable audio" in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize("voice_seconds", [12.0, None])
def test_a_moved_benchmark_gets_the_same_voice_statistics(tmp_path, monkeypatch, voice_seconds):
    """Which items give a voice its statistics is chosen by their names in the benchmark (or is
    all of them), so the same benchmark in another folder is tokenised the same (and scores the
    same)."""
    import shutil

    from slmscale.eval.cache import encode_benchmark
    from slmscale.eval.formats import Benchmark, Pair
    from slmscale.units.bundle import SpeechTokenizer
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from slmscale.units.voice_norm import VoiceNorm
    from support.voices import RAW_LOGMEL, gain_corpus

    manifest = gain_corpus(tmp_path / "c")
    cfg = make_fit_config(manifest, RAW_LOGMEL, k=4, max_frames=5000).model_copy(
        update={"voice_norm": VoiceNorm(seconds=12.0)})  # four of a voice's eight 3-second items
    fit_tokenizer(cfg, tmp_path / "tok", workers=1)
    names = [f"{v}-u{i}" for v in ("us-f1", "carib-f5") for i in range(8)]
    pairs = [Pair(f"p{i}", v, f"{v}-u{i}", f"{v}-u{i + 1}") for v in ("us-f1", "carib-f5") for i in (0, 2, 4, 6)]
    seen: list[list[str]] = []
    adapt = SpeechTokenizer.adapt

    def spy(self, items, voices=None, **kw):
        seen.append(sorted(it.key for it in items))
        return adapt(self, items, voices, **kw)

    monkeypatch.setattr(SpeechTokenizer, "adapt", spy)
    got = []
    for where in ("a/deep/bench", "b"):
        folder = tmp_path / where
        shutil.copytree(manifest.parent / "audio", folder)
        bench = Benchmark("swuggy", "dev", folder, pairs, audio={n: folder / f"{n}.wav" for n in names})
        enc = UnitsEncoder(SpeechTokenizer.load(tmp_path / "tok"), {"eos": 2}, dedup=False,
                           voice_seconds=voice_seconds)
        got.append(encode_benchmark(bench, enc, tmp_path / "cache" / where.replace("/", "_"))[0])
    assert seen[0] == seen[1] == sorted(names)  # the items are known by name, not by path
    assert got[0].keys() == got[1].keys() and all((got[0][k] == got[1][k]).all() for k in got[0])
    # Caches tokenised when the paths chose the items are not reused.
    from slmscale.artifacts import sha256_json

    tok = SpeechTokenizer.load(tmp_path / "tok")
    old_key = sha256_json({"kind": "units", "fingerprint": tok.fingerprint(), "dedup": False})
    assert UnitsEncoder(tok, {"eos": 2}, dedup=False, voice_seconds=voice_seconds).key != old_key


def test_the_cache_key_follows_the_tokenising_code(tmp_path, monkeypatch):
    """Every units/audio module that tokenising a benchmark loads is in TOKENISING_MODULES, whose
    source is part of the key: tokens cached by other code are not reused."""
    import subprocess
    import sys

    from slmscale.eval import encoders
    from slmscale.units.fit import fit_tokenizer, make_fit_config
    from slmscale.units.voice_norm import VoiceNorm
    from support.voices import RAW_LOGMEL, gain_corpus

    manifest = gain_corpus(tmp_path / "c")
    cfg = make_fit_config(manifest, RAW_LOGMEL, k=4, max_frames=5000).model_copy(
        update={"voice_norm": VoiceNorm(seconds=12.0), "min_run": 2})
    fit_tokenizer(cfg, tmp_path / "tok", workers=1)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from slmscale.eval.encoders import UnitsEncoder\n"
        "from slmscale.units.bundle import SpeechTokenizer\n"
        f"wavs = sorted(Path({str(manifest.parent / 'audio')!r}).glob('*.wav'))\n"
        f"enc = UnitsEncoder(SpeechTokenizer.load({str(tmp_path / 'tok')!r}), {{'eos': 2}})\n"
        "enc.prepare_voices(wavs, ['v'] * len(wavs), [w.stem for w in wavs])\n"
        "assert all(u is not None for u in enc.encode(wavs))\n"
        "print(' '.join(m for m in sys.modules if m.startswith(('slmscale.units.', 'slmscale.audio.'))))\n")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert "slmscale.units.spectral" in loaded and "slmscale.units.smoothing" in loaded
    assert set(loaded) <= set(encoders.TOKENISING_MODULES), set(loaded) - set(encoders.TOKENISING_MODULES)

    from slmscale.units.bundle import SpeechTokenizer

    tok = SpeechTokenizer.load(tmp_path / "tok")
    before = encoders.UnitsEncoder(tok, {"eos": 2}).key
    monkeypatch.setattr(encoders, "tokenising_code", lambda: "another version")
    assert encoders.UnitsEncoder(tok, {"eos": 2}).key != before


def test_the_cache_key_follows_the_versions_of_the_tokenising_libraries(monkeypatch):
    """Every library a tokenising module imports either computes tokens and is in
    TOKENISING_LIBRARIES, or only loads, validates or paces work; a listed library's version is
    part of the key."""
    import ast
    import importlib.util
    import sys
    from importlib.metadata import packages_distributions

    from slmscale.eval import encoders

    dists = packages_distributions()
    imported = set()
    for name in encoders.TOKENISING_MODULES:
        tree = ast.parse(Path(str(importlib.util.find_spec(name).origin)).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in ("slmscale", "__future__")}
    assert {"numpy", "torch", "sklearn", "soxr"} <= third_party  # the scan sees the numeric imports
    libraries = {dists[m][0] for m in third_party}
    assert libraries - {"joblib", "pydantic", "threadpoolctl"} <= set(encoders.TOKENISING_LIBRARIES), (
        libraries - set(encoders.TOKENISING_LIBRARIES))

    before = encoders.tokenising_code()
    real = encoders._version
    monkeypatch.setattr(encoders, "_version", lambda d: "0.0.1" if d == "torch" else real(d))
    encoders.tokenising_code.cache_clear()
    try:
        assert encoders.tokenising_code() != before
    finally:
        encoders.tokenising_code.cache_clear()
    assert encoders._version("no-such-distribution-slmscale") == "absent"
