"""Comma-separated option values: one parser, one rule for an empty value."""

import pytest

from slmscale.cli.lists import comma_list, int_list
from slmscale.errors import UserError


def test_comma_list_strips_and_drops_blank_items():
    assert comma_list(" a, b ,,c,", "--x") == ["a", "b", "c"]
    assert comma_list("one", "--x") == ["one"]


def test_absent_flag_is_none_so_the_default_applies():
    assert comma_list(None, "--x") is None
    assert int_list(None, "--steps") is None


@pytest.mark.parametrize("text", ["", ",", " , ,"])
def test_given_but_empty_is_an_error_naming_the_flag(text):
    with pytest.raises(UserError, match=r"^--voices .*: empty; give comma-separated values"):
        comma_list(text, "--voices")
    with pytest.raises(UserError, match="--steps"):
        int_list(text, "--steps")


def test_int_list():
    assert int_list("300, 200", "--steps") == [300, 200]
    with pytest.raises(UserError, match="--k 10,x: give integers separated by commas"):
        int_list("10,x", "--k")
