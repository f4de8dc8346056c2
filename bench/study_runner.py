"""Study runner overhead: wall time per run of the local executor with a trivial (fake) trainer.

Prints JSON. The fake trainer (tests/study/fake_trainer.py) does no work, so this measures what
the study machinery adds per run: process start, config/status files, locks, the results table
rebuild after each run, and (reported separately) fits + report.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAKE = str(ROOT / "tests" / "study" / "fake_trainer.py")


def main() -> None:
    from slmscale.data.shards import ShardWriter
    from slmscale.study.pipeline import run_study
    from slmscale.study.spec import StudySpec

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        w = ShardWriter(tmp / "shards", 12, {"bos": 10, "eos": 11}, "units")
        w.add(np.arange(10) % 10, doc_id="d0")
        w.close({})
        sizes = [{"preset": f"fake-{n}", "params": n} for n in (20_000, 50_000, 100_000, 200_000, 400_000)]
        spec = StudySpec.model_validate({
            "arms": [{"name": "speech", "kind": "units", "shards": str(tmp / "shards")}],
            "grid": {"sizes": sizes, "tokens_per_param": [2, 5, 10, 20]},
            "fits": {"bootstrap": 100},
            "execution": {"jobs": 2, "trainer": [sys.executable, FAKE, "train"],
                          "evaluator": [sys.executable, FAKE, "eval"]}})
        t0 = time.perf_counter()
        res = run_study(spec, tmp / "out", report=False)
        runs_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        run_study(spec, tmp / "out", report=True)  # nothing to run: fits + report only
        rerun_s = time.perf_counter() - t1
    print(json.dumps({"bench": "study_runner", "runs": res["runs"], "jobs": 2,
                      "wall_s_first_invocation": round(runs_s, 2),
                      "wall_s_per_run": round(runs_s / res["runs"], 3),
                      "wall_s_rerun_fits_and_report": round(rerun_s, 2),
                      "machine": "2-core CPU (shared)"}))


if __name__ == "__main__":
    main()
