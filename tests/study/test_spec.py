from __future__ import annotations

import pytest

from slmscale.errors import UserError
from slmscale.study.spec import load_spec

from study_helpers import make_spec, write_spec


def test_valid_spec_loads_and_normalises_sizes(tmp_path, shards):
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards)))
    assert [s.preset for s in spec.grid.sizes] == ["fake-20000", "fake-80000", "fake-300000"]
    assert spec.arms[0].shards == shards
    assert spec.execution.jobs == 2


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path, shards):
    d = make_spec(tmp_path, shards)
    d["arms"][0]["shards"] = "shards"
    spec = load_spec(write_spec(tmp_path, d))
    assert spec.arms[0].shards == shards


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.update(colour="red"), "colour: unknown key"),
    (lambda d: d["arms"][0].update(tasks=["swugy"]), "unknown task"),
    (lambda d: d["grid"].update(tokens_per_param=[], flops=[]), "give tokens_per_param, flops"),
    (lambda d: d["grid"].update(tokens_per_param=[-2]), "budgets must be positive"),
    (lambda d: d["arms"].append(dict(d["arms"][0])), "arm names must be unique"),
    (lambda d: d["arms"][0].update(kind="interleaved", shards=None), "interleaved arms start from the text arm"),
    (lambda d: d["arms"][0].update(init_arm="text"), "init_arm applies to interleaved arms only"),
    (lambda d: d["arms"][0].update(kind="interleaved", init_arm="speech"), "is not an enabled text arm"),
    (lambda d: d["arms"][0].update(tasks=["sstorycloze_t2s"]), "interleaved arms only"),
    (lambda d: d["arms"][0].update(shards=None), "no shards given and no data.corpus"),
    (lambda d: d["data"].update(corpus={"synth": {"hours": 1, "stories": 3}}), "give --hours or --stories"),
    (lambda d: d["grid"].update(sizes=[{"preset": "../../../pwn/x", "params": 53440}]), "sizes.0.preset"),
    (lambda d: d["grid"].update(sizes=["mine/v2"]), "sizes.0.preset: String should match pattern"),
    (lambda d: d["arms"][0].update(name="../arm"), "arms.0.name"),
    (lambda d: d.update(name="a/b"), "name: String should match pattern"),
    (lambda d: d["data"].update(bench={"synth": {"voices": ["../x"]}}), "unknown voice"),
    (lambda d: d["data"].update(corpus={"synth": {"hours": 1, "voices": ["nobody"]}}), "unknown voice"),
    (lambda d: d["data"].update(bench={"synth": {"tasks": ["sblimp"]}}), "set by the arms' tasks"),
])
def test_bad_specs_fail_with_one_line_naming_the_key(tmp_path, shards, mutate, needle):
    d = make_spec(tmp_path, shards)
    mutate(d)
    with pytest.raises(UserError) as err:
        load_spec(write_spec(tmp_path, d))
    assert needle in str(err.value)
    assert "study.yaml" in str(err.value) and "\n" not in str(err.value)


def test_override_applies_before_validation(tmp_path, shards):
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards)), ["execution.jobs=3"])
    assert spec.execution.jobs == 3


def test_shipped_example_study_validates():
    from pathlib import Path

    from slmscale.config import load_config
    from slmscale.study.spec import StudySpec

    root = Path(__file__).resolve().parents[2]
    spec = load_config(StudySpec, root / "configs" / "studies" / "own-data.yaml")
    assert [a.kind for a in spec.arms] == ["units", "text", "unigram", "interleaved"]
    assert spec.init_arm_of(spec.arms[3]) == "text" and spec.data.interleave.span_lambda == 10
    assert spec.grid.tokens_per_param == [2, 4, 8, 10, 20, 32, 64, 100]


def test_task_aliases_are_accepted(tmp_path, shards):
    d = make_spec(tmp_path, shards)
    d["arms"][0]["tasks"] = ["ssc", "tsc"]
    d["arms"][0]["tasks"] = ["sstorycloze", "tsc", "SBLIMP", "lexical"]
    assert load_spec(write_spec(tmp_path, d)).arms[0].tasks == ["ssc", "tsc", "sblimp", "swuggy"]


def test_interleaved_arm_defaults_to_the_text_arm_and_needs_a_corpus(tmp_path, shards):
    text = {"name": "text", "kind": "text", "shards": str(shards)}
    d = make_spec(tmp_path, shards, arms=[text, {"name": "il", "kind": "interleaved",
                                                 "tasks": ["sblimp", "ssc_t2s", "tsc_text"]}])
    with pytest.raises(UserError, match="needs data.corpus"):
        load_spec(write_spec(tmp_path, d))
    d["data"]["corpus"] = {"path": str(tmp_path / "manifest.jsonl")}
    d["data"]["interleave"] = {"speech_ratio": 0.5, "mix": {"text": 0.1}}
    spec = load_spec(write_spec(tmp_path, d))
    il = spec.arms[1]
    assert spec.init_arm_of(il) == "text" and il.tasks == ["sblimp", "sstorycloze_t2s", "tstorycloze_text"]
    assert spec.data.interleave.speech_ratio == 0.5 and spec.data.interleave.mix.interleaved == 0.54
    # Prebuilt interleaved shards train from scratch unless an init arm is named.
    d["arms"][1]["shards"] = str(shards)
    assert load_spec(write_spec(tmp_path, d)).init_arm_of(load_spec(write_spec(tmp_path, d)).arms[1]) is None
    d["arms"][1]["init_arm"] = "text"
    assert load_spec(write_spec(tmp_path, d)).init_arm_of(load_spec(write_spec(tmp_path, d)).arms[1]) == "text"
    d["data"]["interleave"] = {"span_lambda": 0}
    with pytest.raises(UserError, match="data.interleave.span_lambda"):
        load_spec(write_spec(tmp_path, d))


def test_planner_targets_name_results_columns(tmp_path, shards):
    d = make_spec(tmp_path, shards, questions={"targets": {"sstorycloze": 0.6, "sblimp": 0.55}})
    assert load_spec(write_spec(tmp_path, d)).questions.targets == {"ssc": 0.6, "sblimp": 0.55}
    d["questions"]["targets"] = {"accuracy": 0.6}
    with pytest.raises(UserError, match="questions.targets: .*unknown task 'accuracy'"):
        load_spec(write_spec(tmp_path, d))


def test_hubert_without_checkpoint_pretrains_on_the_study_corpus():
    from slmscale.config import validate
    from slmscale.study.spec_data import HUBERT_PLACEHOLDER, UnitsSpec

    u = validate(UnitsSpec, {"fit": {"encoder": {"name": "hubert", "layer": 2}, "k": 50},
                             "pretrain": {"steps": [100]}}, "units")
    assert u.fit.encoder.checkpoint == HUBERT_PLACEHOLDER and u.pretrain.steps == [100] and not u.phonenet
    # Defaults when only the encoder is named; refused with another encoder or a given checkpoint.
    assert validate(UnitsSpec, {"fit": {"encoder": {"name": "hubert", "layer": 2}, "k": 50}}, "u").pretrain is not None
    for fit in ({"encoder": "mfcc", "k": 50}, {"encoder": {"name": "hubert", "layer": 2, "checkpoint": "x"}, "k": 50}):
        with pytest.raises(UserError, match="pretrain: set only with fit.encoder hubert"):
            validate(UnitsSpec, {"fit": fit, "pretrain": {}}, "units")


def test_demo_speech_arms_are_textless():
    """Textless means textless: no demo preset's speech arm learns from phone labels."""
    from slmscale.study.demo import PRESETS, load_preset

    for name in PRESETS:
        units = load_preset(name).data.units
        assert units.fit.encoder.name in ("hubert", "mfcc", "logmel") and not units.phonenet, name


def _with_corpora(d, arm=None, units=None):
    """A speech arm built from a corpus + fitted units, and a no-story arm on a second corpus."""
    d["data"].update(corpus={"synth": {"hours": 1}}, units=units or {"fit": {"encoder": "mfcc", "k": 10}},
                     corpora={"no_story": {"synth": {"hours": 1, "no_story": True}}})
    d["arms"] = [{"name": "speech", "kind": "units"},
                 {"name": "no_story", "kind": "units", "corpus": "no_story", **(arm or {})}]
    return d


def test_an_arm_can_train_on_its_own_corpus(tmp_path, shards):
    spec = load_spec(write_spec(tmp_path, _with_corpora(make_spec(tmp_path, shards))))
    assert spec.arms[1].corpus == "no_story" and spec.data.corpora["no_story"].synth.no_story
    assert spec.data.corpora["no_story"].synth.voices == spec.data.corpus.synth.voices
    # Relative corpus paths resolve against the YAML's folder, like data.corpus.
    d = _with_corpora(make_spec(tmp_path, shards))
    d["data"]["corpora"]["no_story"] = {"path": "ns"}
    assert load_spec(write_spec(tmp_path, d)).data.corpora["no_story"].path == tmp_path / "ns"


@pytest.mark.parametrize("arm, units, needle", [
    ({"corpus": "other"}, None, "corpus 'other' is not in data.corpora (names: ['no_story'])"),
    ({"kind": "text"}, None, "corpus applies to units arms only"),
    ({"shards": "shards"}, None, "give corpus or shards, not both"),
    ({}, {"shards": "shards"}, "needs the study's speech tokenizer"),
    ({"corpus": "../x"}, None, "arms.1.corpus: String should match pattern"),
])
def test_bad_arm_corpora_fail_with_one_line(tmp_path, shards, arm, units, needle):
    d = _with_corpora(make_spec(tmp_path, shards), arm, units)
    with pytest.raises(UserError) as err:
        load_spec(write_spec(tmp_path, d))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_corpus_names_are_plain_folder_names(tmp_path, shards):
    d = _with_corpora(make_spec(tmp_path, shards))
    d["data"]["corpora"]["../up"] = {"synth": {"hours": 1}}
    with pytest.raises(UserError, match="data.corpora: name '../up' must match"):
        load_spec(write_spec(tmp_path, d))
