"""Shared test fixtures: everything is built small, in temporary folders, from seeds."""

from __future__ import annotations

import os

# Keep every test single-threaded and deterministic on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402  (after the environment is set)


@pytest.fixture
def cli(capsys):
    """Run `slmscale ARGV...` in-process: returns (exit code, stdout, stderr with whitespace folded)."""
    from slmscale.cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            main(list(argv))
            code = 0
        except SystemExit as ex:
            code = int(ex.code or 0)
        out = capsys.readouterr()
        return code, out.out, " ".join(out.err.split())

    return run


# Speech-like babble corpus, MFCC tokenizer, shards and a tiny HuBERT, shared by units/data/train tests.


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.babble import write_babble_corpus

    """40 utterances of 1-2.5 s in 4 voices; returns the manifest path."""
    return write_babble_corpus(tmp_path_factory.mktemp("corpus"), 40, seconds=(1.0, 2.5), seed=3)


@pytest.fixture(scope="session")
def tokdir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    out = tmp_path_factory.mktemp("tok") / "tok"
    fit_tokenizer(make_fit_config(corpus, EncoderConfig(name="mfcc", frame_rate=50), k=32, seed=0), out, workers=1)
    return out


@pytest.fixture(scope="session")
def smooth_tokdir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tokdir`'s k-means, encoding with short runs absorbed (`units fit --min-run 3`)."""
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    cfg = make_fit_config(corpus, EncoderConfig(name="mfcc", frame_rate=50), k=32, seed=0)
    out = tmp_path_factory.mktemp("smooth") / "tok"
    fit_tokenizer(cfg.model_copy(update={"min_run": 3}), out, workers=1)
    return out


@pytest.fixture(scope="session")
def shards_dir(tokdir: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from slmscale.units.encode import encode_manifest

    out = tmp_path_factory.mktemp("shards") / "shards"
    encode_manifest(tokdir, corpus, out, valid_fraction=0.1, seed=0, workers=1)
    return out


@pytest.fixture(scope="session")
def tiny_hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.babble import make_tiny_hubert

    return make_tiny_hubert(tmp_path_factory.mktemp("hubert") / "model")
