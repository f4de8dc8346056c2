import json

import yaml

from slmscale.cli.main import main


def run_cli(argv):
    """Exit code of `slmscale ARGV` run in-process (0 when it returns normally)."""
    try:
        main(argv)
    except SystemExit as ex:
        return ex.code or 0
    return 0


def test_bad_key_fails_before_any_work(shards_dir, tmp_path, make_config, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(make_config(shards_dir, tmp_path / "run")))
    code = run_cli(["train", str(cfg), "--set", "train.learning_rate=1e-3"])
    err = capsys.readouterr().err
    assert code == 2 and "train.learning_rate: unknown key" in err and str(cfg) in err
    assert not (tmp_path / "run").exists()


def test_train_then_resume_flag_and_diverged_exit_code(shards_dir, tmp_path, make_config, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(make_config(shards_dir, tmp_path / "unused")))
    run = tmp_path / "run"
    assert run_cli(["train", str(cfg), "--out", str(run), "--set", "budget.tokens=640"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["tokens"] == 640
    assert "finished run" in capsys.readouterr().err
    # --resume on a dir without checkpoints is a user error
    assert run_cli(["train", str(cfg), "--out", str(tmp_path / "fresh"), "--resume"]) == 2
    # a NaN-producing learning rate: exit code 3 with the reason
    code = run_cli(["train", str(cfg), "--out", str(tmp_path / "nan"), "--set", "train.lr=1e30",
                    "--set", "train.grad_clip=null", "--set", "train.warmup_steps=0"])
    err = capsys.readouterr().err
    assert code == 3 and "diverged" in err and "lower train.lr" in err
    assert json.loads((tmp_path / "nan" / "summary.json").read_text())["status"] == "diverged"
