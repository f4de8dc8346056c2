import numpy as np

from slmscale.units.masking import span_mask


def test_span_masks_cover_about_half_with_paper_settings():
    mask = span_mask(64, 500, 0.08, 10, np.random.default_rng(0))
    assert mask.shape == (64, 500)
    share = mask.mean()
    assert 0.40 < share < 0.60  # 40 spans of 10 frames, overlapping
    # every masked run is at least one span long
    for row in mask[:8]:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        assert np.all(edges[1::2] - edges[::2] >= 10)


def test_span_masks_are_seeded_and_never_empty():
    a = span_mask(4, 30, 0.08, 10, np.random.default_rng(1))
    b = span_mask(4, 30, 0.08, 10, np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert np.all(a.sum(axis=1) >= 10)
    short = span_mask(2, 5, 0.08, 10, np.random.default_rng(0))
    assert short.all()  # a span longer than the crop masks all of it
    assert span_mask(1, 0, 0.08, 10, np.random.default_rng(0)).shape == (1, 0)
