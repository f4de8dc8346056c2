"""Model ids resolved from the local Hugging Face cache, never downloaded."""

import shutil

import pytest

from slmscale.errors import UserError
from slmscale.hf_cache import resolve_model_dir

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hf_cache(tmp_path, monkeypatch, tiny_hubert):
    """A cache in the layout huggingface_hub writes: models--ORG--NAME/{refs/main, snapshots/SHA/}."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--lab--tiny-hubert"
    shutil.copytree(tiny_hubert, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # belt and braces: the test must not touch the network
    return repo / "snapshots" / COMMIT


def test_folder_and_cached_id_resolve(hf_cache, tmp_path):
    assert resolve_model_dir(hf_cache) == hf_cache.resolve()
    assert resolve_model_dir("lab/tiny-hubert") == hf_cache.resolve()
    assert resolve_model_dir(f"lab/tiny-hubert@{COMMIT}") == hf_cache.resolve()


def test_missing_id_or_folder_is_one_clear_error(hf_cache, tmp_path):
    with pytest.raises(UserError, match=r"lab/absent: neither a local folder nor a model in the Hugging Face "
                                        r"cache .*huggingface-cli download lab/absent"):
        resolve_model_dir("lab/absent")
    with pytest.raises(UserError, match="model.init_from nope: not a directory"):
        resolve_model_dir("nope", "model.init_from")


def test_units_fit_takes_a_cached_model_id(hf_cache, corpus, tmp_path, cli):
    code, _, err = cli("units", "fit", "--manifest", str(corpus), "--encoder", "hubert", "--checkpoint",
                       "lab/tiny-hubert", "--layer", "2", "--k", "8", "--out", str(tmp_path / "tok"))
    assert code == 0, err
    from slmscale.units.bundle import SpeechTokenizer

    tok = SpeechTokenizer.load(tmp_path / "tok")
    assert tok.config.encoder.checkpoint == str(hf_cache.resolve()) and tok.config.encoder.checkpoint_sha256
    units, _ = tok.encode_file(next((corpus.parent / "audio").glob("*.wav")))
    assert len(units) > 0


def test_init_from_takes_a_cached_model_id(tmp_path, monkeypatch):
    from huggingface_hub import constants
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmscale.model.build import load_pretrained

    snap = tmp_path / "hub" / "models--lab--tiny-lm" / "snapshots" / COMMIT
    LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2)).save_pretrained(snap)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    model = load_pretrained("lab/tiny-lm", vocab_size=24)
    assert model.get_input_embeddings().num_embeddings == 24
    with pytest.raises(UserError, match="model.init_from lab/other: neither a local folder"):
        load_pretrained("lab/other")
