"""k-means over sampled feature frames (scikit-learn), and nearest-centroid assignment.

Fitting uses k-means++ seeding and Lloyd iterations with a fixed seed on one thread, so the same
frames and seed give the same centroids bit for bit on any machine. Frames are subsampled per
utterance with a seed derived from (seed, utterance id), so the sample does not depend on the order
workers finish in.
"""

from __future__ import annotations

import hashlib

import numpy as np

from slmscale.errors import UserError


def utterance_rng(seed: int, key: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def sample_frames(feats: np.ndarray, keep: float, seed: int, key: str) -> np.ndarray:
    """Keep each frame with probability `keep` (deterministic per utterance key)."""
    if keep >= 1.0:
        return feats
    mask = utterance_rng(seed, key).random(len(feats)) < keep
    return feats[mask]


def cap_frames(frames: np.ndarray, max_frames: int, seed: int) -> np.ndarray:
    """At most `max_frames` rows, chosen uniformly with `seed`, kept in their original order."""
    if len(frames) <= max_frames:
        return frames
    idx = np.sort(np.random.default_rng(seed).choice(len(frames), size=max_frames, replace=False))
    return frames[idx]


def fit_kmeans(frames: np.ndarray, k: int, seed: int, max_iter: int = 100) -> tuple[np.ndarray, dict]:
    """Centroids (k, dim) float32 and fit stats (inertia, iterations)."""
    from sklearn.cluster import KMeans

    frames = np.ascontiguousarray(frames, dtype=np.float32)
    if frames.ndim != 2 or len(frames) == 0:
        raise UserError("no feature frames to fit k-means on; is the manifest's audio usable?")
    distinct = len(np.unique(frames[:100_000], axis=0))
    if distinct < k and len(frames) > 100_000:
        distinct = len(np.unique(frames, axis=0))
    if distinct < k:
        raise UserError(f"only {distinct} distinct feature frames for k={k} units; "
                        "give more audio or lower --k")
    from threadpoolctl import threadpool_limits

    km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=max_iter, tol=1e-4,
                random_state=seed, algorithm="lloyd")
    # scikit-learn's result depends (in the last bits) on its thread count; one thread makes the
    # same seed give the same centroids on any machine.
    with threadpool_limits(1):
        km.fit(frames)
    centroids = np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
    stats = {"frames": int(len(frames)), "inertia_per_frame": float(km.inertia_) / len(frames),
             "iterations": int(km.n_iter_)}
    return centroids, stats


def fit_whitening(frames: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA whitening fitted on frames: (mean (d,), matrix (d, dim)) so that (x - mean) @ matrix
    has identity covariance on the frames, keeping the `dim` directions of largest variance.

    Computed in float64; each eigenvector's sign is fixed (largest-magnitude entry positive), so
    the same frames give the same matrix whatever the LAPACK build returns.
    """
    x = np.asarray(frames, dtype=np.float64)
    if dim > x.shape[1]:
        raise UserError(f"projection to {dim} dimensions, but the features have only {x.shape[1]}")
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:dim]
    values, vectors = values[order], vectors[:, order]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(dim)])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    matrix = vectors / np.sqrt(np.maximum(values, 1e-8 * max(values[0], 1e-12)))
    return mean.astype(np.float32), np.ascontiguousarray(matrix, dtype=np.float32)


class Assigner:
    """Nearest centroid by squared Euclidean distance (||c||² − 2x·c; ||x||² is the same for all c)."""

    def __init__(self, centroids: np.ndarray):
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.half_norms = 0.5 * np.einsum("kd,kd->k", self.centroids, self.centroids)

    def __call__(self, feats: np.ndarray, block: int = 16384) -> np.ndarray:
        feats = np.asarray(feats, dtype=np.float32)
        if feats.shape[-1] != self.centroids.shape[1]:
            raise UserError(f"features have dimension {feats.shape[-1]} but the centroids have "
                            f"{self.centroids.shape[1]}; the tokenizer does not match this encoder")
        out = np.empty(len(feats), dtype=np.int64)
        for start in range(0, len(feats), block):
            scores = feats[start:start + block] @ self.centroids.T
            scores -= self.half_norms
            out[start:start + block] = scores.argmax(axis=1)
        return out
