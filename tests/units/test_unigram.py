import numpy as np
import pytest

from slmscale.data.shards import Shards
from slmscale.errors import UserError
from slmscale.units.unigram import (UnigramTokenizer, build_unigram, char_unit, unit_char,
                                    units_to_text)


def test_unit_characters_are_private_use_and_invertible():
    for u in (0, 1, 499, 6399, 6400, 20000):
        c = unit_char(u)
        assert len(c) == 1 and char_unit(c) == u
        assert 0xE000 <= ord(c) <= 0xF8FF or 0xF0000 <= ord(c) <= 0xFFFFD


def test_unigram_round_trip_compression_and_durations(shards_dir, tmp_path):
    meta = build_unigram(shards_dir, 80, tmp_path / "uni", seed=0)
    src, uni = Shards(shards_dir), Shards(tmp_path / "uni")
    tok = UnigramTokenizer.load(tmp_path / "uni" / "unigram.model")
    v = tok.vocab_size
    assert meta["modality"] == "unigram" and meta["pieces"] == v and meta["vocab_size"] == v + 2
    assert meta["special_tokens"] == {"bos": v, "eos": v + 1}
    assert meta["tokenizer"]["unigram_path"] == str((tmp_path / "uni" / "unigram.model").resolve())
    assert meta["compression_ratio"] == pytest.approx(src.meta["tokens"] / uni.meta["tokens"])
    assert meta["compression_ratio"] > 1.0
    assert max(tok.piece_lengths) > 1  # learned multi-unit pieces
    for i in range(len(src)):
        assert np.array_equal(tok.decode(uni.doc(i)), src.doc(i))
        assert uni.doc_durations(i).sum() == src.doc_durations(i).sum()
        assert uni.docs[i]["split"] == src.docs[i]["split"] and uni.docs[i]["voice"] == src.docs[i]["voice"]
    assert uni.meta["splits"]["valid"]["documents"] == src.meta["splits"]["valid"]["documents"]
    # Units never seen in training still encode (every unit is a piece): no <unk>.
    ids = tok.encode(np.arange(32))
    assert np.array_equal(tok.decode(ids), np.arange(32))


def test_unigram_is_deterministic_and_cached(shards_dir, tmp_path, capsys):
    a = build_unigram(shards_dir, 60, tmp_path / "a", seed=3)
    b = build_unigram(shards_dir, 60, tmp_path / "b", seed=3)
    assert a["checksums"] == b["checksums"]
    assert (tmp_path / "a" / "unigram.model").read_bytes() == (tmp_path / "b" / "unigram.model").read_bytes()
    again = build_unigram(shards_dir, 60, tmp_path / "a", seed=3)
    assert again["created"] == a["created"] and "up to date" in " ".join(capsys.readouterr().err.split())


def test_vocabulary_smaller_than_units_is_an_error(shards_dir, tmp_path):
    with pytest.raises(UserError, match="at least k"):
        build_unigram(shards_dir, 20, tmp_path / "u")


def test_text_encoding_is_one_char_per_unit():
    assert units_to_text(np.array([0, 5, 5])) == "\ue000\ue005\ue005"
