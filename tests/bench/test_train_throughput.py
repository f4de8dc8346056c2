"""bench/train_throughput.py: its `slmscale train` config is a valid TrainConfig that times every step."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("bench_train_throughput", ROOT / "bench" / "train_throughput.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_train_config_is_valid_and_logs_every_step(tmp_path):
    from slmscale.train.config import TrainConfig

    tt = _load()
    cfg = tt.train_config(tmp_path / "shards", tmp_path / "run", "85m", seq_len=2048, batch=8, steps=9, micro=4,
                          compile=True, distributed="fsdp")
    parsed = TrainConfig.model_validate(cfg)
    assert parsed.train.batch_tokens == 8 * 2048 and parsed.train.micro_batch == 4
    assert parsed.budget.tokens == 9 * 8 * 2048  # exactly 9 optimizer steps
    assert parsed.log.interval_steps == 1 and parsed.checkpoint.interval_steps > 9
    assert parsed.train.compile and parsed.train.distributed == "fsdp"


def test_headline_line_reads_like_the_results_table():
    tt = _load()
    row = {"preset": "cpu-1m", "ours_tokens_per_s": 10572.0, "hf_tokens_per_s": 11047.0, "speedup_vs_hf": 0.957,
           "ours_mfu": 0.49, "hf_mfu": 0.51}
    assert tt.headline(row) == "cpu-1m: 10,572 vs 11,047 tokens/s (0.96x), MFU 49% vs 51%"
