import json
import os
from pathlib import Path

import pytest

from slmscale import __version__
from slmscale.artifacts import (atomic_open, atomic_write_text, fingerprint, is_fresh, read_json,
                                read_meta, write_json, write_meta)
from slmscale.errors import UserError


def test_atomic_write_leaves_no_partial_file(tmp_path: Path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as fh:
            fh.write("half-writ")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]  # the temporary file was removed


def test_meta_marks_fresh_only_for_same_config_and_inputs(tmp_path: Path):
    meta = write_meta(tmp_path, "thing", {"k": 1}, {"in": "abc"}, count=3)
    assert meta["version"] == __version__ and meta["count"] == 3
    assert is_fresh(tmp_path, fingerprint("thing", {"k": 1}, {"in": "abc"}))
    assert not is_fresh(tmp_path, fingerprint("thing", {"k": 2}, {"in": "abc"}))
    assert not is_fresh(tmp_path, fingerprint("thing", {"k": 1}, {"in": "abd"}))
    assert not is_fresh(tmp_path / "missing", fingerprint("thing", {"k": 1}))
    assert read_meta(tmp_path, "thing")["config"] == {"k": 1}
    with pytest.raises(UserError, match="expected a 'other' artifact"):
        read_meta(tmp_path, "other")


def test_json_roundtrip_and_errors(tmp_path: Path):
    write_json(tmp_path / "a.json", {"p": Path("x/y"), "n": 2})
    assert read_json(tmp_path / "a.json") == {"p": "x/y", "n": 2}
    (tmp_path / "b.json").write_text("{oops")
    with pytest.raises(UserError, match="not valid JSON"):
        read_json(tmp_path / "b.json")
    with pytest.raises(UserError, match="not found"):
        read_json(tmp_path / "c.json")
    assert json.loads((tmp_path / "a.json").read_text())["n"] == 2


def test_atomic_files_get_umask_permissions(tmp_path: Path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o644
