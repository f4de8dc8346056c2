"""Vocabulary extension of real (tiny, random) Hugging Face causal LMs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from slmscale.errors import UserError
from slmscale.model.extend import extend_vocabulary
from slmscale.text.interleaved_vocab import read_speech_vocab, speech_token_ids
from slmscale.text.bpe import train_bpe

K = 6
TEXTS = ["The little cat sat on the warm mat.", "A brown dog ran to the park after the cat.",
         "Mia found a shiny key under the old bridge."] * 8
PROBE = ["the cat ran to the old bridge.", "Mia sat on the mat"]


def _config(arch: str, n: int, tie: bool, extra_rows: int):
    import transformers as tf

    common = dict(vocab_size=n + extra_rows, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=64, tie_word_embeddings=tie)
    if arch == "llama":
        return tf.LlamaForCausalLM, tf.LlamaConfig(intermediate_size=64, num_key_value_heads=2, **common)
    if arch == "qwen2":
        return tf.Qwen2ForCausalLM, tf.Qwen2Config(intermediate_size=64, num_key_value_heads=2, **common)
    if arch == "gpt_neox":
        return tf.GPTNeoXForCausalLM, tf.GPTNeoXConfig(intermediate_size=64, **common)
    if arch == "opt":
        return tf.OPTForCausalLM, tf.OPTConfig(ffn_dim=64, word_embed_proj_dim=32, pad_token_id=0,
                                               bos_token_id=1, eos_token_id=2, **common)
    raise AssertionError(arch)


def make_text_lm(path, arch="llama", tie=False, extra_rows=0, seed=0):
    """A tiny random text LM with a trained byte-level BPE tokenizer, saved as an HF directory."""
    tok = train_bpe(TEXTS, path, vocab_size=300)
    (path / "meta.json").unlink()  # a plain HF directory, as a user would give
    cls, cfg = _config(arch, len(tok), tie, extra_rows)
    torch.manual_seed(seed)
    model = cls(cfg)
    with torch.no_grad():  # larger weights than the default init, so logits differ clearly
        model.get_input_embeddings().weight.normal_(0, 1.0)
        if not tie:
            model.get_output_embeddings().weight.normal_(0, 1.0)
    model.save_pretrained(str(path))
    return tok


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path)), AutoModelForCausalLM.from_pretrained(str(path))


def _logits(model, tok):
    batch = tok(PROBE, add_special_tokens=False, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch).logits, batch["input_ids"], batch["attention_mask"]


def _ce(logits, ids, mask):
    """Mean next-token cross-entropy over real (unpadded) targets."""
    lp = torch.log_softmax(logits[:, :-1].double(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    m = mask[:, 1:].bool()
    return -(lp[m]).mean()


CASES = [("llama", False, 0), ("llama", True, 0), ("qwen2", False, 20), ("qwen2", True, 3),
         ("gpt_neox", False, 0), ("opt", True, 0)]


@pytest.mark.parametrize("arch,tie,extra_rows", CASES)
def test_extension_round_trip_keeps_text_ability(tmp_path, arch, tie, extra_rows):
    src, out = tmp_path / "lm", tmp_path / "ext"
    src.mkdir()
    make_text_lm(src, arch, tie, extra_rows)
    tok0, m0 = _load(src)
    n, rows0 = len(tok0), m0.get_input_embeddings().weight.shape[0]
    vocab = extend_vocabulary(src, out, K)
    tok1, m1 = _load(out)

    # Tokenizer: new ids after the original ones; unit tokens encode whole; text unchanged.
    assert (vocab.unit_offset, vocab.speech_token_id, vocab.text_token_id) == (n, n + K, n + K + 1)
    assert len(tok1) == vocab.vocab_size == n + K + 2
    assert tok1.convert_tokens_to_ids([f"<u{u}>" for u in range(K)]) == list(range(n, n + K))
    ids = tok1("<speech><u3><u0><u5><text>the cat", add_special_tokens=False)["input_ids"]
    assert ids[:5] == [n + K, n + 3, n, n + 5, n + K + 1]
    assert ids[5:] == tok0("the cat", add_special_tokens=False)["input_ids"]
    for text in PROBE:
        assert tok1(text)["input_ids"] == tok0(text)["input_ids"]
    np.testing.assert_array_equal(speech_token_ids(out), np.arange(n, n + K))
    assert read_speech_vocab(out) == vocab
    np.testing.assert_array_equal(vocab.speech_sequence(np.array([2, 0])), [n + K, n + 2, n])
    assert vocab.restricted_ids().tolist() == list(range(n, n + K)) + [tok1.eos_token_id]
    assert vocab.special_tokens()["speech"] == n + K and vocab.special_tokens()["eos"] == tok1.eos_token_id

    # Model: rows grow only when the padding rows cannot hold the new tokens; tying is kept.
    rows1 = m1.get_input_embeddings().weight.shape[0]
    assert rows1 == max(rows0, n + K + 2) == vocab.embedding_rows
    assert m1.config.get_text_config().vocab_size == rows1
    w_in, w_out = m1.get_input_embeddings().weight, m1.get_output_embeddings().weight
    assert (w_out.data_ptr() == w_in.data_ptr()) == tie
    # Init rule: new rows = mean of the original vocabulary's rows (input and output separately).
    new = slice(n, n + K + 2)
    e0_in, e0_out = m0.get_input_embeddings().weight, m0.get_output_embeddings().weight
    torch.testing.assert_close(w_in[new], e0_in[:n].mean(0).expand(K + 2, -1))
    torch.testing.assert_close(w_out[new], e0_out[:n].mean(0).expand(K + 2, -1))
    torch.testing.assert_close(w_in[:n], e0_in[:n], rtol=0, atol=0)
    torch.testing.assert_close(w_out[:n], e0_out[:n], rtol=0, atol=0)

    # Text ability: logits over the original vocabulary identical, so loss over it is equal.
    l0, ids_t, mask = _logits(m0, tok0)
    l1, _, _ = _logits(m1, tok1)
    torch.testing.assert_close(l1[..., :n], l0[..., :n], rtol=0, atol=1e-5)
    torch.testing.assert_close(_ce(l1[..., :n], ids_t, mask), _ce(l0[..., :n], ids_t, mask), rtol=0, atol=1e-6)
    # Each new token's logit is the mean original logit at that position.
    mean_logit = l0[..., :n].mean(-1, keepdim=True)
    torch.testing.assert_close(l1[..., new], mean_logit.expand_as(l1[..., new]), rtol=0, atol=1e-4)
    if extra_rows == 0:
        # Full-vocabulary loss grows by exactly log(1 + (K+2) exp(mean - logsumexp)) per token.
        lse = torch.logsumexp(l0.double(), -1)
        penalty = torch.log1p((K + 2) * torch.exp(mean_logit[..., 0].double() - lse))
        expect = _ce(l0, ids_t, mask) + penalty[:, :-1][mask[:, 1:].bool()].mean()
        torch.testing.assert_close(_ce(l1, ids_t, mask), expect, rtol=0, atol=1e-6)
        assert _ce(l1, ids_t, mask) > _ce(l0, ids_t, mask)
        hf_loss = m0(input_ids=ids_t[:1], labels=ids_t[:1]).loss
        torch.testing.assert_close(hf_loss.double(), _ce(l1[:1, :, :n], ids_t[:1], mask[:1]), rtol=0, atol=1e-5)


def test_extension_is_deterministic_and_guards_inputs(tmp_path):
    src = tmp_path / "lm"
    src.mkdir()
    make_text_lm(src, "llama")
    extend_vocabulary(src, tmp_path / "a", K)
    extend_vocabulary(src, tmp_path / "b", K)
    for name in ("model.safetensors", "tokenizer.json", "speech_vocab.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Model and tokenizer in different folders (a run's final/ and the text arm's tokenizer/).
    final = tmp_path / "final"
    final.mkdir()
    for f in src.iterdir():
        if f.name in ("config.json", "model.safetensors", "generation_config.json"):
            shutil.copy(f, final / f.name)
    extend_vocabulary(final, tmp_path / "d", K, tokenizer_dir=src)
    for name in ("model.safetensors", "tokenizer.json", "speech_vocab.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "d" / name).read_bytes()
    with pytest.raises(UserError, match="not found"):
        extend_vocabulary(final, tmp_path / "e", K, tokenizer_dir=tmp_path / "nope")
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["kind"] == "extended-lm" and meta["speech_vocab"]["k"] == K and meta["tied"] is False
    with pytest.raises(UserError, match="already extended"):
        extend_vocabulary(tmp_path / "a", tmp_path / "c", K)
    with pytest.raises(UserError, match="already has '</s>'"):
        extend_vocabulary(src, tmp_path / "c", K, speech_token="</s>")
    with pytest.raises(UserError, match="no config.json"):
        extend_vocabulary(tmp_path / "nowhere", tmp_path / "c", K)
    with pytest.raises(UserError, match="at least one"):
        extend_vocabulary(src, tmp_path / "c", 0)
    with pytest.raises(UserError, match="speech_vocab.json"):
        speech_token_ids(src)


def test_tokenizer_only_extension_matches_the_model_extension_and_is_checked(tmp_path):
    from slmscale.text.interleaved_vocab import check_same_vocabulary, extend_tokenizer

    src = tmp_path / "lm"
    src.mkdir()
    make_text_lm(src, "llama")
    model_vocab = extend_vocabulary(src, tmp_path / "m", K)
    tok_vocab = extend_tokenizer(src, tmp_path / "t", K)
    assert (tmp_path / "t" / "tokenizer.json").read_bytes() == (tmp_path / "m" / "tokenizer.json").read_bytes()
    assert tok_vocab.embedding_rows == tok_vocab.vocab_size == model_vocab.vocab_size
    assert json.loads((tmp_path / "t" / "meta.json").read_text())["kind"] == "extended-tokenizer"
    assert not (tmp_path / "t" / "model.safetensors").exists()
    assert check_same_vocabulary(tmp_path / "m", tmp_path / "t") == model_vocab
    # Another K, or another text tokenizer, gives other ids: refused with the reason.
    extend_tokenizer(src, tmp_path / "k", K + 1)
    with pytest.raises(UserError, match="different token layouts \\(k 6 vs 7\\)"):
        check_same_vocabulary(tmp_path / "m", tmp_path / "k")
    other = tmp_path / "other"
    other.mkdir()
    tok = train_bpe([t.upper() for t in TEXTS], other, vocab_size=len(load_tok(src)))
    assert len(tok) == len(load_tok(src))
    extend_tokenizer(other, tmp_path / "o", K)
    with pytest.raises(UserError, match="different ids"):
        check_same_vocabulary(tmp_path / "m", tmp_path / "o")


def load_tok(path):
    from slmscale.text.bpe import load_tokenizer

    return load_tokenizer(path)


def test_extension_is_cached_forced_and_never_trusts_a_half_written_output(tmp_path, capsys):
    src = tmp_path / "lm"
    src.mkdir()
    make_text_lm(src, "llama")
    out = tmp_path / "ext"
    extend_vocabulary(src, out, K)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    extend_vocabulary(src, out, K)
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert "up to date" in capsys.readouterr().err
    extend_vocabulary(src, out, K, force=True)
    assert (out / "model.safetensors").stat().st_mtime_ns != stamp
    # Another K is other work; and an output without meta.json (a crash mid-write) is redone.
    assert extend_vocabulary(src, out, K + 1).k == K + 1
    (out / "meta.json").unlink()
    (out / "model.safetensors").write_bytes(b"garbage")
    assert extend_vocabulary(src, out, K + 1).k == K + 1
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(str(out))  # loads again
