import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.units.kmeans import Assigner, cap_frames, fit_kmeans, fit_whitening, sample_frames


def _blobs(seed=0, n=2000, k=8, dim=5):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 10, (k, dim))
    return (centers[rng.integers(0, k, n)] + rng.normal(0, 0.5, (n, dim))).astype(np.float32), centers


def test_fit_is_seeded_and_finds_the_clusters():
    frames, centers = _blobs()
    c1, stats = fit_kmeans(frames, 8, seed=1)
    c2, _ = fit_kmeans(frames, 8, seed=1)
    assert c1.tobytes() == c2.tobytes() and c1.dtype == np.float32
    # Each true center has a fitted centroid close by.
    dist = np.linalg.norm(centers[:, None] - c1[None], axis=2).min(axis=1)
    assert dist.max() < 0.5
    assert stats["frames"] == 2000 and stats["inertia_per_frame"] < 2.0


def test_assigner_equals_brute_force():
    rng = np.random.default_rng(2)
    cents = rng.normal(size=(50, 13)).astype(np.float32)
    x = rng.normal(size=(3000, 13)).astype(np.float32)
    brute = np.argmin(((x[:, None, :] - cents[None]) ** 2).sum(-1), axis=1)
    got = Assigner(cents)(x, block=1000)
    assert (got == brute).mean() > 0.999  # float32 ties aside
    with pytest.raises(UserError, match="dimension"):
        Assigner(cents)(x[:, :5])


def test_sampling_is_deterministic_per_key():
    x = np.arange(10000, dtype=np.float32)[:, None]
    a = sample_frames(x, 0.1, seed=0, key="u1")
    assert np.array_equal(a, sample_frames(x, 0.1, seed=0, key="u1"))
    assert not np.array_equal(a, sample_frames(x, 0.1, seed=0, key="u2"))
    assert 800 < len(a) < 1200
    capped = cap_frames(x, 100, seed=3)
    assert len(capped) == 100 and (np.diff(capped[:, 0]) > 0).all()


def test_too_few_frames_is_a_user_error():
    with pytest.raises(UserError, match="distinct feature frames"):
        fit_kmeans(np.zeros((50, 3), np.float32), 10, seed=0)


def test_whitening_decorrelates_keeps_top_directions_and_is_deterministic():
    rng = np.random.default_rng(3)
    mix = rng.normal(size=(6, 6))
    frames = (rng.normal(size=(5000, 6)) * [5, 3, 2, 1, 0.1, 0.01] @ mix + 7).astype(np.float32)
    mean, matrix = fit_whitening(frames, 3)
    assert mean.shape == (6,) and matrix.shape == (6, 3) and matrix.dtype == np.float32
    out = (frames - mean) @ matrix
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(3), atol=1e-3)
    # The 3 kept directions hold most of the variance: projecting back loses little.
    var_kept = np.trace(np.cov(out @ np.linalg.pinv(matrix), rowvar=False))
    assert var_kept > 0.95 * np.trace(np.cov(frames, rowvar=False))
    again = fit_whitening(frames.copy(), 3)
    assert again[0].tobytes() == mean.tobytes() and again[1].tobytes() == matrix.tobytes()
    # A flipped copy of the data gives the same signs (largest entry of each direction positive).
    assert (matrix[np.abs(matrix).argmax(axis=0), np.arange(3)] > 0).all()
    with pytest.raises(UserError, match="only 6"):
        fit_whitening(frames, 7)
