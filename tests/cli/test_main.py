import subprocess
import sys

from slmscale import __version__


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmscale.cli.main", *args], capture_output=True, text=True)


def test_version_and_help():
    out = _run("--version")
    assert out.returncode == 0 and __version__ in out.stdout
    help_ = _run("--help")
    assert help_.returncode == 0
    for cmd in ("synth", "units", "train", "eval", "fit", "plan", "study", "demo", "data"):
        assert cmd in help_.stdout, cmd


def test_unknown_command_fails_cleanly():
    out = _run("nonsense")
    assert out.returncode == 2 and "Traceback" not in out.stderr
