"""Byte-level BPE training/loading and text shards."""

from __future__ import annotations

import numpy as np
import pytest

from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.text.bpe import encode_texts_to_shards, load_tokenizer, train_bpe

TEXTS = [
    "The little cat sat on the warm mat.",
    "A brown dog ran to the park, and the cat ran after it!",
    "Mia found a shiny key under the old bridge.",
    "Tom and Mia shared the red apple with the dog.",
] * 10


def test_train_save_load_round_trip(tmp_path):
    tok = train_bpe(TEXTS, tmp_path / "tok", vocab_size=400)
    from transformers import PreTrainedTokenizerFast

    again = PreTrainedTokenizerFast.from_pretrained(str(tmp_path / "tok"))
    assert (again.pad_token_id, again.bos_token_id, again.eos_token_id) == (0, 1, 2)
    assert 259 < len(tok) <= 400  # bytes + specials + some merges, within the requested size
    for text in TEXTS[:4] + ["Ünïcödé never seen 🙂 42"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert ids == again(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text  # byte level: lossless, no unknown token
    # Merges were learned: frequent words take fewer tokens than bytes.
    assert len(tok("the cat", add_special_tokens=False)["input_ids"]) < len("the cat")
    assert (tmp_path / "tok" / "meta.json").is_file()


def test_training_is_deterministic(tmp_path):
    train_bpe(TEXTS, tmp_path / "a", vocab_size=400)
    train_bpe(TEXTS, tmp_path / "b", vocab_size=400)
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no text"):
        train_bpe(["", "  "], tmp_path / "t")
    with pytest.raises(UserError, match="too small"):
        train_bpe(TEXTS, tmp_path / "t", vocab_size=100)
    with pytest.raises(UserError, match="not found"):
        load_tokenizer(tmp_path / "missing")


def test_encode_texts_to_shards(tmp_path):
    tok = train_bpe(TEXTS, tmp_path / "tok", vocab_size=400)
    texts = ["the cat sat", "", "Mia ran to the park."]
    meta = encode_texts_to_shards(texts, tmp_path / "tok", tmp_path / "sh", ids=["a", "b", "c"],
                                  splits=["train", "train", "valid"])
    sh = Shards(tmp_path / "sh")
    assert sh.meta["modality"] == "text" and meta["skipped"] == 1 and meta["skipped_ids"] == ["b"]
    assert sh.vocab_size == len(tok)
    assert sh.special_tokens == {"eos": 2, "bos": 1, "pad": 0}
    assert sh.meta["tokenizer"]["kind"] == "text"
    assert sh.meta["tokenizer"]["path"] == str((tmp_path / "tok").resolve())
    assert [d["id"] for d in sh.docs] == ["a", "c"]
    assert [d["split"] for d in sh.docs] == ["train", "valid"]
    for i, text in enumerate(["the cat sat", "Mia ran to the park."]):
        expect = tok(text, add_special_tokens=False)["input_ids"]
        np.testing.assert_array_equal(sh.doc(i), expect)
        assert tok.decode(sh.doc(i).tolist()) == text
