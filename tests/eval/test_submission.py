from __future__ import annotations

import pytest

from slmscale.errors import UserError
from slmscale.eval.submission import format_submission, read_submission, write_submission


def test_lines_sorted_and_round_trip(tmp_path):
    scores = {"b2": -1.25, "a1": -0.1 / 3, "v1/s1_correct": -7.0}
    text = format_submission(scores)
    assert text.splitlines()[0] == f"a1 {-0.1 / 3!r}"
    assert text.splitlines()[1:] == ["b2 -1.25", "v1/s1_correct -7.0"]
    path = tmp_path / "dev.txt"
    write_submission(path, scores)
    assert read_submission(path) == scores  # exact round trip


def test_rejects_bad_names_scores_and_lines(tmp_path):
    with pytest.raises(ValueError):
        format_submission({"a b": 1.0})
    with pytest.raises(ValueError):
        format_submission({"a": float("nan")})
    p = tmp_path / "x.txt"
    p.write_text("a 1.0\nb\n")
    with pytest.raises(UserError, match="x.txt:2"):
        read_submission(p)
