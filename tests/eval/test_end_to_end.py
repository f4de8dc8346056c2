"""Real path: espeak-ng benchmark -> MFCC speech tokenizer -> a saved run -> slmscale eval."""

from __future__ import annotations

import json

import numpy as np
import pytest



@pytest.mark.slow
def test_spoken_benchmark_scored_through_a_real_tokenizer(tmp_path, kit):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmscale.artifacts import write_meta
    from slmscale.audio.io import load_audio
    from slmscale.cli.main import main
    from slmscale.eval.synth_bench import BenchConfig, build_bench
    from slmscale.eval.formats import load_benchmark
    from slmscale.units.bundle import KIND, SpeechTokenizer, TokenizerConfig
    from slmscale.units.encoders import EncoderConfig, build_encoder

    bench = tmp_path / "bench"
    build_bench(BenchConfig(n=3, tasks=["swuggy"], voices=["carib-f5", "us-f1"]), bench, workers=1)
    b = load_benchmark(bench, "swuggy")
    # Tokenizer: centroids are frames of the benchmark audio itself (no k-means needed here).
    ecfg = EncoderConfig(name="mfcc", frame_rate=50)
    feats = np.concatenate([build_encoder(ecfg, device="cpu").features(load_audio(p))
                            for p in list(b.audio.values())[:4]])
    cents = feats[np.random.default_rng(0).choice(len(feats), 20, replace=False)]
    st = SpeechTokenizer(TokenizerConfig(encoder=ecfg, k=20, dim=feats.shape[1], frame_rate=50), cents)
    st.save(tmp_path / "tok")
    write_meta(tmp_path / "tok", KIND, {"test": True})
    st = SpeechTokenizer.load(tmp_path / "tok")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=22, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=4,
                                         num_key_value_heads=4, max_position_embeddings=512))
    run = kit.make_run(tmp_path, model, {"vocab_size": 22, "special_tokens": st.special_tokens,
                                     "modality": "units", "tokenizer": st.shard_info(),
                                     "shards": str(tmp_path)})
    with pytest.raises(SystemExit) as ex:
        main(["eval", "--run", str(run), "--task", "swuggy", "--bench", str(bench)])
    assert ex.value.code == 0
    s = json.loads((run / "eval" / "swuggy" / "scores.json").read_text())
    assert s["n_pairs"] == 3 and s["n_voices"] == 2 and not s["unreadable_items"]
    assert 0.0 <= s["accuracy"] <= 1.0 and set(s["by_frequency"]) <= {"high", "mid", "low"}
    lines = (run / "eval" / "swuggy" / "dev.txt").read_text().splitlines()
    assert len(lines) == 12 and all(np.isfinite(float(ln.split()[1])) for ln in lines)
    assert json.loads((run / "summary.json").read_text())["swuggy"] == s["accuracy"]
    assert s["tokens_cached"] is False
    with pytest.raises(SystemExit):
        main(["eval", "--run", str(run), "--task", "swuggy", "--bench", str(bench)])
    assert json.loads((run / "eval" / "swuggy" / "scores.json").read_text())["tokens_cached"] is True
