"""Help text says what the commands take; README's config list matches configs/train/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _help(cli, monkeypatch, *argv):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(*argv, "--help")
    assert code == 0
    return out


def test_flags_are_shown_without_a_value(cli, monkeypatch):
    out = _help(cli, monkeypatch, "units", "encode")
    line = next(ln for ln in out.splitlines() if "--no-dedup" in ln)
    assert "<bool>" not in line and "Keep consecutive repeated units" in line
    assert "<int>" in next(ln for ln in out.splitlines() if "│" in ln and "--num-shards" in ln)
    code, _, err = cli("units", "encode", "--no-dedup", "yes", "--out", "x")
    assert code == 2  # a flag refuses a value, so help must not suggest one


def test_train_help_has_no_stray_line_break(cli, monkeypatch):
    out = _help(cli, monkeypatch, "train")
    exit_line = next(ln for ln in out.splitlines() if "Exit codes" in ln)
    assert "130 interrupted (rerun), 1 failure." in exit_line


def test_readme_config_list_matches_configs_train():
    readme = (ROOT / "README.md").read_text()
    configs = {p.stem for p in (ROOT / "configs" / "train").glob("*.yaml")}
    named = set(re.findall(r"configs/train/([\w.-]+)\.yaml", readme))
    assert named <= configs, named - configs
    section = readme[readme.index("Ready configs in `configs/train/`"):]
    section = section[:section.index("\n\n")]
    listed = set(re.findall(r"`((?:cpu|paper)-[\w]+)`", section))
    assert listed == configs
