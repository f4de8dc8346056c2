"""Run metrics: metrics.jsonl (always), TensorBoard and W&B (optional), and the matmul peak for MFU."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from slmscale.errors import UserError


class MetricsLog:
    """Append-only JSONL of per-log-step records, mirrored to optional trackers (rank 0 only)."""

    def __init__(self, run_dir: Path, keep_until_step: int, tensorboard: bool = False, wandb: bool = False,
                 run_name: str = "", config: dict[str, Any] | None = None):
        self.path = run_dir / "metrics.jsonl"
        self._truncate(keep_until_step)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._tb = self._wandb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UserError("log.tensorboard: the tensorboard package is not installed "
                                "(pip install tensorboard) or set log.tensorboard=false") from None
            self._tb = SummaryWriter(str(run_dir / "tensorboard"))
        if wandb:
            try:
                import wandb as wb
            except ImportError:
                raise UserError("log.wandb: the wandb package is not installed (pip install wandb) "
                                "or set log.wandb=false") from None
            self._wandb = wb.init(name=run_name, config=config, dir=str(run_dir))

    def _truncate(self, keep_until_step: int) -> None:
        """On resume, drop records past the checkpoint so the file reads as one clean run."""
        if not self.path.is_file():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and _step_of(line) is not None and _step_of(line) <= keep_until_step]
        from slmscale.artifacts import atomic_write_text

        atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        step = record["step"]
        for key, val in record.items():
            if key != "step" and isinstance(val, (int, float)):
                if self._tb is not None:
                    self._tb.add_scalar(key, val, step)
        if self._wandb is not None:
            self._wandb.log(record, step=step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def measure_matmul_peak(device: Any, dtype: Any, size: int | None = None, seconds: float = 0.5) -> float:
    """Achieved FLOP/s of a large square matmul on `device` (the MFU denominator)."""
    import torch

    if size is None:
        size = 8192 if device.type == "cuda" else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(2):
        a @ b
    sync()
    reps, best = 0, 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or reps < 3:
        t = time.perf_counter()
        a @ b
        sync()
        best = max(best, 2.0 * size**3 / (time.perf_counter() - t))
        reps += 1
    return best
