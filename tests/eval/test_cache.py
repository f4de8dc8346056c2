"""The benchmark token cache: one process fills it, concurrent evals sharing the tokenizer read it."""

from __future__ import annotations

import threading

import numpy as np

from eval.test_run import build_sblimp
from slmscale.eval.cache import _save, cache_path, encode_benchmark
from slmscale.eval.formats import load_benchmark
from slmscale.locks import waiting


def test_a_second_eval_waits_for_the_first_and_reads_its_cache(tmp_path, kit):
    items = build_sblimp(kit, tmp_path / "bench", n_pairs=2)
    bench = load_benchmark(tmp_path / "bench", "sblimp")
    cache = tmp_path / "cache"
    path = cache_path(bench, kit.FakeEncoder(), cache)
    late = kit.FakeEncoder()
    got = {}
    with waiting(path.with_suffix(".lock")):  # another eval is tokenising this benchmark
        t = threading.Thread(target=lambda: got.update(r=encode_benchmark(bench, late, cache)))
        t.start()
        t.join(0.5)
        assert t.is_alive() and late.calls == 0  # it waits rather than tokenising again
        _save(path, {k: np.asarray(v, dtype=np.int64) for k, v in items.items()}, [])  # the first finishes
    t.join(10)
    tokens, failed, cached = got["r"]
    assert cached and late.calls == 0 and failed == []
    assert {k: list(v) for k, v in tokens.items()} == {k: list(v) for k, v in items.items()}


def test_a_miss_fills_the_cache_once(tmp_path, kit):
    build_sblimp(kit, tmp_path / "bench", n_pairs=1)
    bench = load_benchmark(tmp_path / "bench", "sblimp")
    first, second = kit.FakeEncoder(), kit.FakeEncoder()
    _, _, cached = encode_benchmark(bench, first, tmp_path / "cache")
    assert not cached and first.calls > 0
    _, _, cached = encode_benchmark(bench, second, tmp_path / "cache")
    assert cached and second.calls == 0
