from __future__ import annotations

import numpy as np

from slmscale.data.manifest import ManifestEntry, write_manifest
from slmscale.data.shards import Shards
from slmscale.study.text_data import build_text_shards, extra_stories
from slmscale.text.stories import generate_stories


def _manifest(tmp_path, n=12):
    stories = generate_stories(n, seed=0)
    entries = [ManifestEntry(id=f"u{i}", audio=f"a/{i}.wav", duration=1.0, sample_rate=16000, text=s.text,
                             voice="v", split="valid" if i % 4 == 0 else "train")
               for i, s in enumerate(stories)]
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, entries)
    return path, entries


def test_text_shards_hold_every_transcript_with_its_split_and_decode_back(tmp_path):
    from slmscale.text.bpe import load_tokenizer

    path, entries = _manifest(tmp_path)
    shards_dir = build_text_shards(path, tmp_path / "text", vocab_size=300, stories=5, seed=0)
    sh = Shards(shards_dir)
    assert sh.meta["modality"] == "text" and sh.meta["tokenizer"]["kind"] == "text"
    ids = [d["id"] for d in sh.docs]
    assert ids[:len(entries)] == [e.id for e in entries] and len(ids) == len(entries) + 5
    assert [d["split"] for d in sh.docs[:len(entries)]] == [e.split for e in entries]
    assert all(d["split"] == "train" for d in sh.docs[len(entries):])
    tok = load_tokenizer(tmp_path / "text" / "tokenizer")
    assert tok.decode(sh.doc(1).tolist()) == entries[1].text
    specials = sh.special_tokens
    assert {"bos", "eos"} <= set(specials) and sh.vocab_size == len(tok)
    assert all(int(sh.doc(i).max()) < sh.vocab_size for i in range(len(sh)))


def test_same_inputs_give_identical_bytes(tmp_path):
    path, _ = _manifest(tmp_path)
    a = build_text_shards(path, tmp_path / "a", vocab_size=300, stories=3)
    b = build_text_shards(path, tmp_path / "b", vocab_size=300, stories=3)
    assert (a / "tokens.bin").read_bytes() == (b / "tokens.bin").read_bytes()


def test_extra_stories_never_repeat_a_corpus_utterance():
    corpus = {s.text for s in generate_stories(50, seed=0)}
    extra = extra_stories(20, 0, corpus)
    assert len(extra) == 20 and not corpus & {t for _, t in extra}
    assert len({i for i, _ in extra}) == 20
    assert extra == extra_stories(20, 0, corpus)
