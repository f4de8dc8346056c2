"""`slmscale data interleave`, as a user runs it: from a speech tokenizer or from unit shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmscale.data.manifest import read_manifest, write_manifest
from support.babble import write_babble_corpus

WORDS = "the little cat sat on a warm mat and a brown dog ran to the park".split()



@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Babble audio with transcripts and word timings, a speech tokenizer, an extended text tokenizer."""
    from slmscale.text.interleaved_vocab import extend_tokenizer
    from slmscale.text.bpe import train_bpe
    from slmscale.units.encoders import EncoderConfig
    from slmscale.units.fit import fit_tokenizer, make_fit_config

    root = tmp_path_factory.mktemp("il")
    manifest = write_babble_corpus(root / "corpus", 12, seconds=(1.5, 2.5), seed=3)
    entries = []
    for i, e in enumerate(read_manifest(manifest)):
        n = int(e.duration / 0.25)
        words = [WORDS[(i + j) % len(WORDS)] for j in range(n)]
        timed = [(w, round(0.25 * j, 3), round(0.25 * j + 0.22, 3)) for j, w in enumerate(words)]
        entries.append(e.model_copy(update={"text": " ".join(words), "words": timed,
                                            "split": "valid" if i % 4 == 0 else "train"}))
    write_manifest(manifest, entries)
    cfg = make_fit_config(manifest, EncoderConfig(name="mfcc", frame_rate=25), 12, max_frames=5000, seed=0)
    fit_tokenizer(cfg, root / "tok", workers=1)
    train_bpe([e.text for e in entries], root / "bpe", vocab_size=300)
    extend_tokenizer(root / "bpe", root / "ext", 12)
    return {"manifest": manifest, "tok": root / "tok", "ext": root / "ext", "root": root}


def test_from_a_speech_tokenizer_then_cached(inputs, tmp_path, cli):
    out = tmp_path / "il"
    argv = ["data", "interleave", "--manifest", str(inputs["manifest"]), "--units", str(inputs["tok"]),
            "--tokenizer", str(inputs["ext"]), "--out", str(out), "--workers", "1"]
    code, _, err = cli(*argv)
    assert code == 0, err
    assert "train shares text" in err and "speech tokens" in err and "0 utterance(s) skipped" in err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["modality"] == "interleaved" and meta["tokenizer"]["k"] == 12
    # The speech tokenizer is named for evaluation; the audio was encoded into OUT/units/ first.
    assert meta["tokenizer"]["units_path"] == str(inputs["tok"].resolve())
    assert json.loads((out / "units" / "meta.json").read_text())["modality"] == "units"
    assert set(meta["splits"]) == {"train", "valid"}
    code, _, err = cli(*argv)
    assert code == 0 and "interleaved shards are up to date" in err
    code, _, err = cli(*argv, "--force")
    assert code == 0 and "up to date" not in err


def test_from_unit_shards_with_options(inputs, tmp_path, cli):
    units = inputs["root"] / "units"
    code, _, err = cli("units", "encode", "--tokenizer", str(inputs["tok"]), "--manifest",
                       str(inputs["manifest"]), "--out", str(units), "--valid-fraction", "0", "--workers", "1")
    assert code == 0, err
    text = tmp_path / "extra.txt"
    text.write_text("one more story.\n\nand another one.\n")
    code, _, err = cli("data", "interleave", "--manifest", str(inputs["manifest"]), "--units", str(units),
                       "--tokenizer", str(inputs["ext"]), "--out", str(tmp_path / "il"), "--mix", "1,1,0",
                       "--speech-ratio", "0.5", "--span-lambda", "3", "--seed", "4", "--time-rule", "start",
                       "--no-single-modality-marks", "--extra-text", str(text))
    assert code == 0, err
    meta = json.loads((tmp_path / "il" / "meta.json").read_text())
    assert meta["config"]["speech_ratio"] == 0.5 and meta["config"]["seed"] == 4
    assert meta["config"]["mark_single_modality"] is False and meta["config"]["time_rule"] == "start"
    assert meta["mix_weights"] == {"text": 0.5, "interleaved": 0.5, "speech": 0.0}
    assert meta["streams"]["train"]["stream_tokens"]["speech"] == 0
    assert 0.4 < meta["speech_word_share"] < 0.6


@pytest.mark.parametrize("change, needle", [
    ({"--mix": "1,2"}, "--mix '1,2': give three"),
    ({"--speech-ratio": "1.5"}, "speech_ratio"),
    ({"--time-rule": "end"}, "time_rule"),
    ({"--tokenizer": "{tok}"}, "no speech_vocab.json"),
    ({"--units": "{ext}"}, "neither unit shards"),
    ({"--manifest": "{root}/nope.jsonl"}, "not found"),
])
def test_bad_options_are_one_line_errors(inputs, tmp_path, cli, change, needle):
    opts = {"--manifest": str(inputs["manifest"]), "--units": str(inputs["tok"]), "--tokenizer": str(inputs["ext"]),
            "--out": str(tmp_path / "o")}
    opts.update({k: v.format(**{k2: str(v2) for k2, v2 in inputs.items()}) for k, v in change.items()})
    code, _, err = cli("data", "interleave", *[x for kv in opts.items() for x in kv])
    assert code == 2 and needle in err and err.startswith("error:"), err
    assert not (tmp_path / "o" / "meta.json").exists()
