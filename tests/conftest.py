"""Shared test fixtures: everything is built small, in temporary folders, from seeds."""

from __future__ import annotations

import os

# Keep every test single-threaded and deterministic on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402  (after the environment is set)


@pytest.fixture
def cli(capsys):
    """Run `slmscale ARGV...` in-process: returns (exit code, stdout, stderr with whitespace folded)."""
    from slmscale.cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            main(list(argv))
            code = 0
        except SystemExit as ex:
            code = int(ex.code or 0)
        out = capsys.readouterr()
        return code, out.out, " ".join(out.err.split())

    return run
