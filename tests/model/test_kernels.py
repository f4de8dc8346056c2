import torch

from slmscale.model.build import build_model
from slmscale.model.kernels import fuse_rms_norms
from slmscale.model.presets import ModelShape


def test_fused_rms_norm_matches_reference_forward_and_backward():
    shape = ModelShape(2, 64, 4, 192)
    ref = build_model(shape, 100, {"eos": 99}, 64, seed=0)
    fast = build_model(shape, 100, {"eos": 99}, 64, seed=0)
    assert fuse_rms_norms(fast) == 2 * 2 + 1  # two per layer + the final norm
    x = torch.randint(0, 100, (2, 64), generator=torch.Generator().manual_seed(0))
    outs = []
    for model in (ref, fast):
        logits = model(input_ids=x).logits
        logits.square().mean().backward()
        outs.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    for g0, g1 in zip(outs[0][1], outs[1][1]):
        torch.testing.assert_close(g0, g1, rtol=1e-4, atol=1e-6)
    # per instance: a model that was not patched keeps the transformers implementation
    assert "forward" not in vars(ref.model.norm) and "forward" in vars(fast.model.norm)
