import pytest


def test_import_export_commands(shards_dir, tmp_path, cli):
    pytest.importorskip("datasets")
    code, _, err = cli("data", "export", str(shards_dir), "--out", str(tmp_path / "ds"))
    assert code == 0 and "Hugging Face dataset" in err
    code, _, err = cli("data", "import", str(tmp_path / "ds"), "--out", str(tmp_path / "back"))
    assert code == 0 and "imported" in err
    assert (tmp_path / "back" / "tokens.bin").read_bytes() == (shards_dir / "tokens.bin").read_bytes()
    units = tmp_path / "u.txt"
    units.write_text("a|1 2 3\n")
    code, _, err = cli("data", "import", str(units), "--out", str(tmp_path / "s"), "--k", "1")
    assert code == 2 and "--k 1" in err
    code, _, err = cli("data", "import", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "s"))
    assert code == 2 and "missing.txt: not found" in err
    code, _, err = cli("data", "import", str(units), "--out", str(tmp_path / "s"), "--format", "csv")
    assert code == 2 and "choose auto, jsonl, text or hf" in err
