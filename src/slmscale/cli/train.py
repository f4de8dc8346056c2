"""`slmscale train CONFIG.yaml [--set key=value ...] [--resume] [--out RUN]`.

Exit codes: 0 finished (or already finished), 2 bad config/input, damaged shards or checkpoints,
no space / read-only output, or RUN locked by another train (one-line error naming it),
3 diverged (NaN/inf or train.max_loss exceeded; summary.json says where), 130 interrupted
(resume later with the same command), 1 unexpected failure (summary.json status "failed").
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

EXIT_DIVERGED = 3


def _diverged_error(message: str) -> Exception:
    from slmscale.errors import UserError

    class TrainingDiverged(UserError):
        exit_code = EXIT_DIVERGED

    return TrainingDiverged(message)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""

    @app.command("train")
    def train(
        config: Path = typer.Argument(..., help="training config YAML (see configs/train/)"),
        set_: Optional[List[str]] = typer.Option(None, "--set", help="override a config key: key=value"),
        out: Optional[Path] = typer.Option(None, "--out", help="run directory (overrides `out`)"),
        resume: bool = typer.Option(False, "--resume",
                                    help="require a checkpoint in RUN and continue from it "
                                         "(a run dir with checkpoints is resumed anyway)"),
        no_verify: bool = typer.Option(False, "--no-verify",
                                       help="skip the shards' sha256 and token-id scan at start (very large "
                                            "shards; same as data.verify=false; sizes and offsets are always "
                                            "checked)"),
    ) -> None:
        """Train one model on token shards at an exact token budget; writes a RUN directory.

        Exit codes: 0 finished, 2 bad config/input, 3 diverged, 130 interrupted (rerun), 1 failure.
        """
        import slmscale.train  # noqa: F401  (before torch: sets the OpenMP wait policy)
        from slmscale.train.config import load_train_config

        overrides = list(set_ or [])
        if out is not None:
            overrides.append(f"out={out}")
        if no_verify:
            overrides.append("data.verify=false")
        cfg = load_train_config(config, overrides)
        from slmscale.progress import info
        from slmscale.train import run_training

        summary = run_training(cfg, resume=True if resume else None)
        if summary["status"] == "diverged":
            # main() prints UserErrors as one line and exits with their code.
            raise _diverged_error(f"{cfg.out}: {summary.get('message', 'diverged')}")
        if summary.get("world_size", 1) > 1 and _rank() != 0:
            return
        info(f"finished {summary['run_id']}: held-out loss {summary['loss']:.4f} nats/token, "
             f"{summary['tokens']:,} tokens, {summary['wall_s']:.1f} s -> {Path(cfg.out).resolve()}")


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))
