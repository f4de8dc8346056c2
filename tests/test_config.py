from pathlib import Path

import pytest
from pydantic import Field

from slmscale.config import StrictModel, apply_overrides, load_config, set_dotted
from slmscale.errors import UserError


class Inner(StrictModel):
    lr: float = 1e-3
    steps: int = Field(10, gt=0)


class Outer(StrictModel):
    name: str = "x"
    inner: Inner = Inner()


def test_overrides_are_typed_and_nested():
    data = apply_overrides({"inner": {"steps": 3}}, ["inner.lr=5e-4", "name=run", "inner.steps=7"])
    cfg = Outer.model_validate(data)
    assert cfg.inner.lr == pytest.approx(5e-4)
    assert cfg.inner.steps == 7
    assert cfg.name == "run"


def test_override_without_equals_is_a_user_error():
    with pytest.raises(UserError, match="expected key=value"):
        apply_overrides({}, ["inner.lr"])


def test_unknown_key_names_file_and_key(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  lrr: 0.1\n")
    with pytest.raises(UserError) as err:
        load_config(Outer, p)
    assert str(p) in str(err.value) and "inner.lrr" in str(err.value) and "unknown key" in str(err.value)


def test_bad_value_names_key(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  steps: 0\n")
    with pytest.raises(UserError, match="inner.steps"):
        load_config(Outer, p)


def test_missing_and_malformed_files(tmp_path: Path):
    with pytest.raises(UserError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(Outer, bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n")
    with pytest.raises(UserError, match="mapping"):
        load_config(Outer, lst)


def test_set_dotted_copies_shared_levels():
    shared = {"lr": 1.0}
    data = {"inner": shared}
    set_dotted(data, "inner.lr", 2.0)
    set_dotted(data, "a.b.c", 3)
    assert data == {"inner": {"lr": 2.0}, "a": {"b": {"c": 3}}} and shared == {"lr": 1.0}


def test_an_added_field_stays_out_of_dumps_until_it_is_set():
    """Settings added later (config.added_field) leave older configs' dumps, and with them cache
    identities and config files, exactly as they were."""
    from slmscale.artifacts import fingerprint
    from slmscale.study.spec_data import UnitsFit
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import FitConfig
    from slmscale.units.voice_norm import VoiceNorm

    cfg = FitConfig(manifest="m.jsonl", encoder=EncoderConfig(), k=8)
    dumped = cfg.model_dump(mode="json")
    assert "voice_norm" not in dumped and "voice_norm" not in cfg.model_dump_json()
    assert FitConfig.model_validate(dumped) == cfg  # and what older versions wrote still loads
    on = cfg.model_copy(update={"voice_norm": VoiceNorm()})
    assert on.model_dump()["voice_norm"]["kind"] == "whiten"
    assert fingerprint("t", on.model_dump(mode="json"), {}) != fingerprint("t", dumped, {})
    # The study's view of the stage config shares the field and the rule.
    view = UnitsFit(encoder=EncoderConfig(), k=8)
    assert "voice_norm" not in view.model_dump()
