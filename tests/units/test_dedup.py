import numpy as np

from slmscale.units.dedup import dedup, expand, unit_frame_starts


def test_dedup_collapses_runs_and_keeps_durations():
    units, durations = dedup(np.array([3, 3, 3, 1, 1, 3, 7, 7]))
    assert units.tolist() == [3, 1, 3, 7]
    assert durations.tolist() == [3, 2, 1, 2]


def test_dedup_properties_on_random_sequences():
    rng = np.random.default_rng(0)
    for _ in range(50):
        seq = rng.integers(0, 4, size=int(rng.integers(1, 300)))
        units, durations = dedup(seq)
        assert (units[1:] != units[:-1]).all()
        assert durations.min() >= 1 and durations.sum() == len(seq)
        assert np.array_equal(expand(units, durations), seq)
        starts = unit_frame_starts(durations)
        assert np.array_equal(seq[starts], units)


def test_dedup_empty_and_single():
    u, d = dedup(np.array([], dtype=np.int64))
    assert u.size == 0 and d.size == 0
    u, d = dedup(np.array([5]))
    assert u.tolist() == [5] and d.tolist() == [1]
