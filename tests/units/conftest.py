"""Fixtures for the units tests: a small speech-like corpus, a fitted MFCC tokenizer, a tiny HuBERT."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmscale.units.encoders import EncoderConfig
from slmscale.units.synthetic import make_tiny_hubert, write_babble_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 utterances of 1-2.5 s in 4 voices; returns the manifest path."""
    return write_babble_corpus(tmp_path_factory.mktemp("corpus"), 40, seconds=(1.0, 2.5), seed=3)


@pytest.fixture(scope="session")
def tokdir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    out = tmp_path_factory.mktemp("tok") / "tok"
    fit_tokenizer(make_fit_config(corpus, EncoderConfig(name="mfcc", frame_rate=50), k=32, seed=0), out, workers=1)
    return out


@pytest.fixture(scope="session")
def shards_dir(tokdir: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from slmscale.units.encode import encode_manifest

    out = tmp_path_factory.mktemp("shards") / "shards"
    encode_manifest(tokdir, corpus, out, valid_fraction=0.1, seed=0, workers=1)
    return out


@pytest.fixture(scope="session")
def tiny_hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_hubert(tmp_path_factory.mktemp("hubert") / "model")
