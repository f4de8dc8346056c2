"""Help text says what the commands take; README's config list, command reference and examples match the CLI."""

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


def _commands() -> dict[tuple[str, ...], set[str]]:
    """Every leaf command of the CLI with the long options it takes."""
    import typer

    from slmscale.cli.main import app

    found: dict[tuple[str, ...], set[str]] = {}

    def walk(command, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, path + (name,))
        else:
            found[path] = {o for p in command.params if p.param_type_name == "option"
                           for o in p.opts + p.secondary_opts if o.startswith("--")} | {"--help"}

    walk(typer.main.get_command(app), ())
    return found


def test_readme_command_reference_names_every_command_and_only_real_options():
    commands = _commands()
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("## Command reference"):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    named: dict[tuple[str, ...], set[str]] = {}
    current: tuple[str, ...] = ()
    for line in block.splitlines():
        words = line.split("#")[0].split()
        for i, word in enumerate(words):
            # A command starts after `slmscale` or after `|` (then it may be a sibling: `| folder ...`).
            if i and words[i - 1] in ("slmscale", "|") and not word.startswith("-"):
                for start in ((), current[:-1]) if words[i - 1] == "|" else ((),):
                    for n in range(3, 0, -1):
                        path = start + tuple(words[i:i + n])
                        if path in commands:
                            current = path
                            named.setdefault(current, set())
                            break
                    else:
                        continue
                    break
            elif re.search(r"(?<![\w-])--[\w-]+", word):
                named[current].update(re.findall(r"(?<![\w-])--[\w-]+", word))
    assert set(commands) - set(named) == set(), "commands missing from README's command reference"
    for path, flags in named.items():
        assert flags <= commands[path], f"slmscale {' '.join(path)}: README names {flags - commands[path]}"


def test_every_documented_command_line_takes_the_options_it_shows():
    """Each `slmscale ...` line of the bash examples in README.md and docs/ names a real command and
    only options that command takes (a renamed or removed option fails here, not for a reader)."""
    commands = _commands()
    wrong = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", doc.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0]
                for call in re.finditer(r"(?:^|[\s;&(])slmscale(?:\.cli\.main)?\s+(.*?)(?=$|&&|;|\|)", line):
                    words = call.group(1).split()
                    path = next((tuple(words[:n]) for n in (3, 2, 1) if tuple(words[:n]) in commands), None)
                    flags = set(re.findall(r"(?<![\w-])--[\w-]+", " ".join(words[len(path or ()):])))
                    if path is None or flags - commands[path]:
                        wrong.append(f"{doc.name}: {line.strip()}")
    assert not wrong, "\n".join(wrong)
