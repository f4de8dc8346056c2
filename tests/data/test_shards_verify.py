"""Consumers never trust shard contents (issue #11, item 3): damaged shards end in one line, exit 2,
and nothing is written from them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from slmscale.data.shards import Shards
from slmscale.errors import UserError
from support.failures import assert_one_line_error, partials, run_cli, train_yaml, unit_shards


@pytest.fixture
def shards(tmp_path):
    return unit_shards(tmp_path / "sh")


def poke_tokens(shards, value: int, at: int = 5) -> None:
    tok = np.memmap(shards / "tokens.bin", dtype=np.uint16, mode="r+")
    tok[at] = value
    tok.flush()
    del tok


def rewrite_docs(shards, edit) -> None:
    lines = (shards / "docs.jsonl").read_text().splitlines()
    (shards / "docs.jsonl").write_text("".join(line + "\n" for line in edit(lines)))


def test_clean_shards_pass_every_check(shards):
    Shards(shards, verify=True)


def test_out_of_vocabulary_ids_stop_unigram_and_train(shards, tmp_path, capsys):
    poke_tokens(shards, 0xFFFF)
    out = tmp_path / "uni"
    code, _, err = run_cli(capsys, "units", "unigram", "--shards", shards, "--vocab-size", "30", "--out", out)
    assert_one_line_error(code, err, "tokens.bin", "sha256")
    # Without the hash check the ids are still range-checked as they are read.
    code, _, err = run_cli(capsys, "units", "unigram", "--shards", shards, "--vocab-size", "30", "--out", out,
                           "--no-verify")
    assert_one_line_error(code, err, "token id 65535", "outside the vocabulary")
    assert not (out / "meta.json").exists() and not partials(tmp_path)
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run")
    code, _, err = run_cli(capsys, "train", cfg, "--no-verify")
    assert_one_line_error(code, err, "outside the vocabulary")
    assert not (tmp_path / "run").exists()


def test_offsets_past_the_end_are_refused(shards, tmp_path, capsys):
    def push(lines):
        d = json.loads(lines[-1])
        d["offset"] += 1000
        return lines[:-1] + [json.dumps(d)]

    rewrite_docs(shards, push)
    code, _, err = run_cli(capsys, "units", "unigram", "--shards", shards, "--vocab-size", "30",
                           "--out", tmp_path / "uni", "--no-verify")
    assert_one_line_error(code, err, "docs.jsonl:30", "index is damaged")
    assert not (tmp_path / "uni" / "meta.json").exists()


def test_a_deleted_index_line_is_refused(shards, tmp_path, capsys):
    rewrite_docs(shards, lambda lines: lines[:3] + lines[4:])
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run")
    code, _, err = run_cli(capsys, "train", cfg, "--no-verify")  # structure checks hold even then
    assert_one_line_error(code, err, "docs.jsonl", "29 documents but meta.json says 30")


def test_a_same_size_edit_is_caught_by_the_hash(shards, tmp_path, capsys):
    poke_tokens(shards, 3)  # still a valid id: only the sha256 can tell
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run")
    code, _, err = run_cli(capsys, "train", cfg)
    assert_one_line_error(code, err, "tokens.bin differ from the sha256", "--no-verify")
    code, out, err = run_cli(capsys, "data", "inspect", shards, "--verify", "--json")
    assert_one_line_error(code, err, "verify failed", "tokens.bin")
    assert json.loads(out)["checksums_ok"]["tokens.bin"] is False


def test_inspect_verify_passes_clean_shards(shards, capsys):
    code, out, err = run_cli(capsys, "data", "inspect", shards, "--verify", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert all(summary["checksums_ok"].values()) and summary["bad_token_position"] is None


def test_a_broken_json_line_names_file_and_line(shards, capsys):
    rewrite_docs(shards, lambda lines: lines[:6] + ['{"id": "d6", "offset": '] + lines[7:])
    code, _, err = run_cli(capsys, "data", "inspect", shards)
    assert_one_line_error(code, err, "docs.jsonl:7", "not valid JSON")


@pytest.mark.parametrize("damage, phrase", [
    (lambda p: (p / "tokens.bin").write_bytes((p / "tokens.bin").read_bytes()[:-3]), "meta.json says"),
    (lambda p: (p / "durations.bin").write_bytes(b"\0\0"), "one uint16 per token"),
    (lambda p: (p / "docs.jsonl").unlink(), "docs.jsonl: missing"),
    (lambda p: (p / "docs.jsonl").write_bytes(b"\xff\xfe\n"), "not UTF-8"),
    (lambda p: rewrite_docs(p, lambda lines: ['{"id": "x"}'] + lines[1:]), "not a document entry"),
])
def test_structural_damage_is_a_user_error(shards, damage, phrase):
    damage(shards)
    with pytest.raises(UserError, match=phrase):
        Shards(shards)


def test_stream_reads_check_ids_even_without_verify(shards):
    from slmscale.data.loader import PackedStream

    poke_tokens(shards, 60, at=int(Shards(shards).offsets[3]))  # d3: a train document
    stream = PackedStream(Shards(shards), "train", seed=0, shuffle=False)
    with pytest.raises(UserError, match="outside the vocabulary"):
        stream.read(0, stream.epoch_tokens)


def test_verify_skips_nothing_it_was_asked_for(shards, tmp_path):
    copy = shutil.copytree(shards, tmp_path / "copy")
    poke_tokens(copy, 3)
    Shards(copy)  # cheap open: structure only
    with pytest.raises(UserError, match="sha256"):
        Shards(copy, verify=True)


def test_inspect_refuses_out_of_vocabulary_ids_in_one_line(shards, capsys):
    poke_tokens(shards, 0xFFFF)
    for extra in ([], ["--verify"]):
        code, _, err = run_cli(capsys, "data", "inspect", shards, "--json", *extra)
        assert_one_line_error(code, err, "token id 65535", "outside the vocabulary")
