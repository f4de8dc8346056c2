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


def test_unit_run_final_is_a_complete_hf_model_dir(shards_dir, tmp_path, train_config):
    import json

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmscale.train import run_training

    run_training(train_config(shards_dir, tmp_path / "run"))
    final = tmp_path / "run" / "final"
    assert json.loads((final / "config.json").read_text())["use_cache"] is True
    tok = AutoTokenizer.from_pretrained(str(final), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(final), local_files_only=True)
    assert len(tok) == model.config.vocab_size == 48 and tok.eos_token_id == 47
    ids = tok("3 4 5 6", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape == (1, 8) and torch.equal(out[0, :4], ids[0])
    assert len(tok.decode(out[0, 4:]).split()) == 4
