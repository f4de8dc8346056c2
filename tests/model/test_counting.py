import torch

from slmscale.model.build import build_model
from slmscale.model.counting import param_counts
from slmscale.model.presets import ModelShape

SPECIAL = {"bos": 98, "eos": 99}


def test_counts_match_shape_formula_untied():
    shape = ModelShape(2, 64, 4, 192)
    model = build_model(shape, 100, SPECIAL, 128, seed=0)
    n, n_total = param_counts(model)
    assert n == shape.non_embedding_params
    assert n_total == n + 2 * 100 * 64  # input embedding + separate output head
    assert n_total == sum(p.numel() for p in model.parameters())


def test_tied_embeddings_counted_once():
    shape = ModelShape(1, 32, 2, 96)
    model = build_model(shape, 100, SPECIAL, 64, seed=0, tie_embeddings=True)
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight
    n, n_total = param_counts(model)
    assert n == shape.non_embedding_params and n_total == n + 100 * 32


def test_build_is_seeded_and_uses_special_tokens():
    shape = ModelShape(1, 32, 2, 96)
    a, b = (build_model(shape, 100, SPECIAL, 64, seed=3) for _ in range(2))
    c = build_model(shape, 100, SPECIAL, 64, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)
    assert a.config.eos_token_id == 99 and a.config.bos_token_id == 98 and a.config.vocab_size == 100


def test_load_pretrained_grows_vocabulary_and_rejects_non_models(tmp_path):
    import pytest

    from slmscale.errors import UserError
    from slmscale.model.build import load_pretrained

    base = build_model(ModelShape(1, 32, 2, 96), 40, {"eos": 39}, 64, seed=0)
    base.save_pretrained(tmp_path / "lm")
    grown = load_pretrained(tmp_path / "lm", vocab_size=48)
    assert grown.get_input_embeddings().num_embeddings == 48 and grown.config.vocab_size == 48
    assert torch.equal(grown.get_input_embeddings().weight[:40], base.get_input_embeddings().weight)
    with pytest.raises(UserError, match="not a (model )?directory"):
        load_pretrained(tmp_path / "nothing")
