"""A training run whose stderr is a file (Slurm, nohup) logs its loss trace as plain lines."""

import re
import subprocess
import sys

import yaml


def test_non_tty_train_log_has_loss_lines(shards_dir, tmp_path, make_config):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(make_config(shards_dir, tmp_path / "run")))
    with open(tmp_path / "job.log", "w") as log:
        proc = subprocess.run([sys.executable, "-W", "default", "-m", "slmscale.cli.main", "train", str(cfg)],
                              stdout=log, stderr=subprocess.STDOUT, timeout=300)
    text = (tmp_path / "job.log").read_text()
    assert proc.returncode == 0, text
    lines = re.findall(r"^step (\d+)/12 \| tokens [\d,]+ \| loss (\d+\.\d{4}) \| lr \S+ \| [\d,]+ tok/s \| ETA \d+:\d\d:\d\d$",
                       text, re.MULTILINE)
    assert [int(s) for s, _ in lines] == [2, 4, 6, 8, 10, 12]  # every log.interval_steps
    assert float(lines[-1][1]) < float(lines[0][1])
    assert re.search(r"^step 12/12 \| tokens [\d,]+ \| valid loss \d+\.\d{4}$", text, re.MULTILINE)
    assert "Warning" not in text, text  # no library warnings leak into the job log
