"""Data for the text arm: the transcripts of the same spoken corpus, as text-token shards.

The papers' text baseline is a text LM trained on what the speech says. We train a byte-level BPE
(Hugging Face `tokenizers`, via `slmscale.text.bpe`) on the corpus's *train* transcripts only, then
encode every utterance's transcript as one document with the manifest's id, split and voice, so the
text LM's held-out set is the same utterances as the speech LM's. Shards have modality "text";
special tokens come from the tokenizer (<pad> 0, <s> bos 1, </s> eos 2); documents hold content
tokens only (the loader adds separators).
Text is cheap, so `stories: N` adds N generated text-only stories (training partition, never a
corpus utterance) to the train split: the papers' text LMs also saw far more text than speech.

Layout: OUT/tokenizer/ (HF tokenizer dir + meta.json), OUT/shards/ (token shards).
The study pipeline caches this stage (same manifest + vocabulary size = skipped).
"""

from __future__ import annotations

from pathlib import Path

from slmscale.data.manifest import read_manifest
from slmscale.errors import UserError


def extra_stories(n: int, seed: int, exclude: set[str]) -> list[tuple[str, str]]:
    """`n` generated training-partition stories not in `exclude`, as (id, text).

    They come from story indices far past any spoken corpus's (index 10^7 on), and any text equal
    to a corpus utterance is skipped, so nothing leaks into the held-out utterances.
    """
    from itertools import islice

    from slmscale.text.stories import iter_stories

    stream = (s for s in iter_stories(seed, "train", start=10_000_000) if s.text not in exclude)
    return [(f"text-{s.id}", s.text) for s in islice(stream, n)]


def build_text_shards(manifest: str | Path, out_dir: str | Path, vocab_size: int = 1000,
                      stories: int = 0, seed: int = 0) -> Path:
    """Train the BPE on train transcripts (+ `stories` text-only stories) and write text shards."""
    from slmscale.text.bpe import encode_texts_to_shards, train_bpe

    manifest, out = Path(manifest), Path(out_dir)
    entries = [e for e in read_manifest(manifest) if e.text.strip()]
    if not entries:
        raise UserError(f"{manifest}: no transcripts (text fields are empty); the text arm needs "
                        "them: disable the text arm or use a manifest with text")
    train_texts = [e.text for e in entries if e.split == "train"]
    if not train_texts:
        raise UserError(f"{manifest}: no train-split transcripts to train the text tokenizer on")
    extra = extra_stories(stories, seed, {e.text for e in entries}) if stories else []
    tok = train_bpe(train_texts + [t for _, t in extra], out / "tokenizer", vocab_size=vocab_size)
    shards = out / "shards"
    encode_texts_to_shards([e.text for e in entries] + [t for _, t in extra], tok, shards,
                           ids=[e.id for e in entries] + [i for i, _ in extra],
                           splits=[e.split for e in entries] + ["train"] * len(extra),
                           config={"vocab_size": vocab_size, "source": "transcripts",
                                   "manifest": str(manifest.resolve()),
                                   "extra_stories": stories, "seed": seed})
    return shards
