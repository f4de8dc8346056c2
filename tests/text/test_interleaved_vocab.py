"""The interleaved vocabulary on its own (no model): ids, the saved layout, caching, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.text.bpe import load_tokenizer, train_bpe
from slmscale.text.interleaved_vocab import (VOCAB_FILE, check_same_vocabulary, extend_tokenizer,
                                             read_speech_vocab, speech_token_ids)

TEXTS = ["The little cat sat on the warm mat.", "A brown dog ran to the park after the cat."] * 6


@pytest.fixture
def text_tok(tmp_path):
    train_bpe(TEXTS, tmp_path / "text", vocab_size=280)
    return tmp_path / "text"


def test_units_and_switch_tokens_follow_the_text_vocabulary(tmp_path, text_tok):
    n = len(load_tokenizer(text_tok))
    vocab = extend_tokenizer(text_tok, tmp_path / "ext", 4)
    assert (vocab.unit_offset, vocab.speech_token_id, vocab.text_token_id) == (n, n + 4, n + 5)
    assert vocab.original_size == n and vocab.vocab_size == vocab.embedding_rows == n + 6
    tok = load_tokenizer(tmp_path / "ext")
    # Each added token is one id, matched whole inside text, and the text ids are unchanged.
    assert tok.encode("<speech><u2><u0><text>", add_special_tokens=False) == [n + 4, n + 2, n, n + 5]
    text_ids = load_tokenizer(text_tok).encode(TEXTS[0], add_special_tokens=False)
    assert tok.encode(TEXTS[0], add_special_tokens=False) == text_ids
    assert read_speech_vocab(tmp_path / "ext") == vocab
    assert json.loads((tmp_path / "ext" / VOCAB_FILE).read_text())["k"] == 4
    np.testing.assert_array_equal(speech_token_ids(tmp_path / "ext"), np.arange(n, n + 4))
    np.testing.assert_array_equal(vocab.speech_sequence(np.array([3, 1])), [n + 4, n + 3, n + 1])
    np.testing.assert_array_equal(vocab.restricted_ids(), [n, n + 1, n + 2, n + 3, vocab.eos_id])
    with pytest.raises(ValueError, match="out of range"):
        vocab.unit_ids(np.array([4]))


def test_extension_is_cached_and_refuses_what_it_cannot_do(tmp_path, text_tok, capsys):
    out = tmp_path / "ext"
    extend_tokenizer(text_tok, out, 4)
    stamp = (out / "tokenizer.json").stat().st_mtime_ns
    extend_tokenizer(text_tok, out, 4)
    assert (out / "tokenizer.json").stat().st_mtime_ns == stamp
    assert "extended tokenizer is up to date" in capsys.readouterr().err
    assert extend_tokenizer(text_tok, out, 5).k == 5  # other settings: redone
    with pytest.raises(UserError, match="already extended"):
        extend_tokenizer(out, tmp_path / "twice", 4)
    with pytest.raises(UserError, match="at least one"):
        extend_tokenizer(text_tok, tmp_path / "none", 0)
    with pytest.raises(UserError, match="already has '</s>'"):
        extend_tokenizer(text_tok, tmp_path / "clash", 4, speech_token="</s>")
    with pytest.raises(UserError, match="no speech_vocab.json"):
        read_speech_vocab(text_tok)


def test_same_vocabulary_check(tmp_path, text_tok):
    a = extend_tokenizer(text_tok, tmp_path / "a", 4)
    extend_tokenizer(text_tok, tmp_path / "b", 4)
    assert check_same_vocabulary(tmp_path / "a", tmp_path / "b") == a
    extend_tokenizer(text_tok, tmp_path / "c", 3)
    with pytest.raises(UserError, match=r"different token layouts \(k 4 vs 3\)"):
        check_same_vocabulary(tmp_path / "a", tmp_path / "c")
