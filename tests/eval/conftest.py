"""Tiny models and fakes for the eval tests (built from seeds, no downloads)."""

from __future__ import annotations

import pytest


def tiny_llama(vocab_size: int = 50, seed: int = 0, max_positions: int = 256):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=max_positions, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    # Random init gives near-uniform predictions; sharpen so differences between sequences are real.
    with torch.no_grad():
        model.lm_head.weight.mul_(30.0)
    return model


@pytest.fixture(scope="session")
def llama():
    return tiny_llama()


SPECIAL = {"bos": 48, "eos": 49}


class FakeEncoder:
    """Stands in for a speech tokenizer: each wav sample stores one token id (value = id / 64)."""

    modality = "audio"
    key = "fake-encoder-v1"
    prefix = [49]
    suffix = [49]
    allowed_tokens = None

    def __init__(self):
        self.calls = 0

    def encode(self, items):
        import numpy as np
        import soundfile as sf

        self.calls += 1
        out = []
        for path in items:
            try:
                x, _ = sf.read(path, dtype="float64")
            except Exception:
                out.append(None)
                continue
            out.append(np.rint(x * 64).astype(np.int64))
        return out


def write_token_wav(path, tokens):
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(tokens, dtype=np.float32) / 64, 16000, subtype="FLOAT")


def make_run(root, model, info=None):
    """A run folder as TRAIN writes it: final/ (HF model + slmscale.json) and summary.json."""
    import json

    run = root / "run"
    model.save_pretrained(run / "final")
    (run / "final" / "slmscale.json").write_text(json.dumps(info or {
        "vocab_size": 50, "special_tokens": SPECIAL, "modality": "units",
        "tokenizer": {"kind": "units", "path": "/nonexistent", "k": 48}, "shards": "/nonexistent"}))
    (run / "summary.json").write_text(json.dumps({"loss": 3.2, "params": 1000, "status": "finished"}))
    return run


@pytest.fixture
def kit():
    """The helpers above, for tests (importlib import mode: test modules cannot import siblings)."""
    from types import SimpleNamespace

    return SimpleNamespace(FakeEncoder=FakeEncoder, make_run=make_run, write_token_wav=write_token_wav,
                           SPECIAL=SPECIAL)


# ---------------------------------------------------------------- interleaved speech-text runs

K_UNITS = 16


def fake_speaker(seconds_per_word: float = 0.02):
    """Stands in for audio.tts.synthesize_many: seeded babble whose length follows the word count
    (same text and voice = same audio), so a benchmark builds in well under a second."""

    def synthesize_many(items, out_dir, workers=None, split=None, description=""):
        import zlib
        from pathlib import Path

        import soundfile as sf

        from support.babble import babble

        for it in items:
            path = Path(out_dir) / it.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            seconds = max(0.1, seconds_per_word * len(it.text.split()))
            sf.write(path, babble(seconds, seed=zlib.crc32(f"{it.voice}|{it.text}".encode())), 16000)
        return [], []

    return synthesize_many


def make_speech_tokenizer(path, k: int = K_UNITS):
    """A real MFCC tokenizer bundle whose centroids are frames of babble (no k-means: fast)."""
    import numpy as np

    from slmscale.artifacts import write_meta
    from slmscale.units.bundle import KIND, SpeechTokenizer, TokenizerConfig
    from slmscale.units.encoders import EncoderConfig, build_encoder
    from support.babble import babble

    ecfg = EncoderConfig(name="mfcc", frame_rate=50)
    feats = build_encoder(ecfg, device="cpu").features(babble(1.0, seed=9))
    centroids = feats[np.random.default_rng(0).choice(len(feats), k, replace=False)]
    SpeechTokenizer(TokenizerConfig(encoder=ecfg, k=k, dim=feats.shape[1], frame_rate=50), centroids).save(path)
    write_meta(path, KIND, {"test": True})
    return SpeechTokenizer.load(path)


def make_interleaved(root, k: int = K_UNITS):
    """A tiny random text LM with a BPE tokenizer, extended with K unit tokens + switch tokens
    (slmscale.model.extend), new rows then randomised (as if trained, so unit tokens differ), a
    speech tokenizer with the same K, and the `final/` files of an interleaved run."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from slmscale.model.extend import extend_vocabulary
    from slmscale.text.bpe import train_bpe
    from slmscale.text.stories import generate_stories

    texts = [s.text for s in generate_stories(30, 5)]
    tok = train_bpe(texts, root / "lm", vocab_size=300)
    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=4,
                                      max_position_embeddings=1024, tie_word_embeddings=False))
    with torch.no_grad():
        lm.get_input_embeddings().weight.normal_(0, 1.0)
        lm.get_output_embeddings().weight.normal_(0, 1.0)
    lm.save_pretrained(root / "lm")
    vocab = extend_vocabulary(root / "lm", root / "ext", k)
    model = AutoModelForCausalLM.from_pretrained(root / "ext")
    new = slice(vocab.original_size, vocab.vocab_size)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for w in (model.get_input_embeddings().weight, model.get_output_embeddings().weight):
            w[new] = torch.randn(w[new].shape, generator=g)
    model.save_pretrained(root / "ext")
    st = make_speech_tokenizer(root / "units", k)
    info = {"vocab_size": vocab.vocab_size, "special_tokens": vocab.special_tokens(), "modality": "interleaved",
            "tokenizer": {"kind": "interleaved", "path": str(root / "ext"), "k": k,
                          "unit_offset": vocab.unit_offset, "speech_token": vocab.speech_token,
                          "text_token": vocab.text_token, "original_size": vocab.original_size,
                          "fingerprint": "test", "units": st.shard_info()},
            "shards": "/nonexistent"}
    return model.eval(), vocab, st, info


def build_small_bench(out, tasks=("sblimp", "ssc"), n=2, voices=("us-f1", "gb-m1")):
    """The real benchmark builder with fake_speaker in place of espeak-ng."""
    import pytest as _pytest

    from slmscale.eval.synth_bench import BenchConfig, build_bench

    with _pytest.MonkeyPatch.context() as mp:
        mp.setattr("slmscale.audio.tts.synthesize_many", fake_speaker())
        build_bench(BenchConfig(n=n, tasks=list(tasks), voices=list(voices)), out, workers=1)
    return out


@pytest.fixture(scope="session")
def interleaved(tmp_path_factory):
    """(model, SpeechVocab, SpeechTokenizer, slmscale.json info, bench root), built once."""
    from types import SimpleNamespace

    root = tmp_path_factory.mktemp("interleaved")
    model, vocab, st, info = make_interleaved(root)
    bench = build_small_bench(root / "bench", tasks=("ssc",), n=2)
    build_small_bench(bench, tasks=("sblimp",), n=1)  # 12 phenomena x 1 pair is plenty
    return SimpleNamespace(model=model, vocab=vocab, st=st, info=info, bench=bench, root=root)
