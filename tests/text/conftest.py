"""Shared, expensive-to-build benchmark items (built once per test session)."""

from __future__ import annotations

import pytest

from slmscale.text.pairs import sblimp_pairs


@pytest.fixture(scope="session")
def blimp_default():
    """The default sBLIMP-like set: 100 pairs per phenomenon, seed 0."""
    return sblimp_pairs(seed=0)
