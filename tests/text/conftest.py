"""Shared, expensive-to-build benchmark items (built once per test session)."""

from __future__ import annotations

import pytest

from slmscale.text.pairs import sblimp_pairs


@pytest.fixture(scope="session")
def blimp_default():
    """The demo's sBLIMP-like set (`configs/demo/tiny.yaml` bench: n 50, seed 0)."""
    return sblimp_pairs(50, seed=0)
