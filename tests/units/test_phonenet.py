"""The phone classifier behind `--encoder phone`: labels, training, caching, the encoder, errors."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from slmscale.errors import UserError
from slmscale.units import phonenet
from slmscale.units.encoders import EncoderConfig, build_encoder
from slmscale.units.phonenet import PhoneNetConfig, frame_labels, normalize_phone, train_phonenet

SMALL = PhoneNetConfig(steps=120, hidden=48, batch=16, lr=4e-3)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six espeak-ng stories in two voices (one story held out as valid): real phone alignments."""
    from slmscale.audio.corpus import CorpusConfig, build_corpus

    out = tmp_path_factory.mktemp("spoken") / "c"
    build_corpus(CorpusConfig.model_validate({"stories": 6, "seed": 2, "voices": ["us-f1", "gb-m1"]}),
                 out, workers=1)
    return out / "manifest.jsonl"


@pytest.fixture(scope="module")
def net_dir(spoken: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("net") / "net"
    train_phonenet(spoken, out, SMALL)
    return out


def test_frame_labels_take_the_phone_at_each_frame_centre():
    index = {"_": 0, "b": 1, "i:": 2}
    labels = frame_labels([("b", 0.02, 0.06), ("'i:", 0.06, 0.1)], 7, 50, index)
    # frames at 0, 20, 40, 60, 80, 100, 120 ms
    assert labels.tolist() == [0, 1, 1, 2, 2, 0, 0]
    assert normalize_phone("'aI") == normalize_phone(",aI") == "aI"
    assert normalize_phone("'") == "_"


def test_training_learns_phones_and_is_cached(net_dir: Path, spoken: Path, capsys):
    from slmscale.artifacts import read_meta

    meta = read_meta(net_dir, phonenet.KIND)
    # Chance is the silence share (~0.2); a 48-channel net after 120 steps is far above it.
    assert meta["train_accuracy"] > 0.6 and meta["valid_accuracy"] > 0.5
    assert meta["phones"] > 30 and meta["windows"] > 0
    capsys.readouterr()
    again = train_phonenet(spoken, net_dir, SMALL)
    assert "up to date" in capsys.readouterr().err and again["created"] == meta["created"]


def test_same_seed_same_weights(spoken: Path, tmp_path: Path):
    cfg = PhoneNetConfig(steps=5, hidden=16, batch=4)
    train_phonenet(spoken, tmp_path / "a", cfg)
    train_phonenet(spoken, tmp_path / "b", cfg)
    assert (tmp_path / "a" / phonenet.WEIGHTS).read_bytes() == (tmp_path / "b" / phonenet.WEIGHTS).read_bytes()


def test_encoder_gives_phone_posteriors_that_match_the_alignment(net_dir: Path, spoken: Path):
    from slmscale.audio.io import load_audio
    from slmscale.data.manifest import read_manifest

    enc = build_encoder(EncoderConfig(name="phone", checkpoint=str(net_dir)))
    entry = next(e for e in read_manifest(spoken) if e.split != "train")
    post = enc.features(load_audio(spoken.parent / entry.audio))
    assert post.shape[1] == enc.dim == len(enc.phones) and enc.frame_rate == 50
    assert np.allclose(post.sum(1), 1.0, atol=1e-4) and (post >= 0).all()
    index = {p: i for i, p in enumerate(enc.phones)}
    truth = frame_labels(entry.phones, len(post), 50, index)
    assert (post.argmax(1) == truth).mean() > 0.5  # a held-out story
    # A long file streamed in pieces gives the same posteriors as the whole file.
    wav = load_audio(spoken.parent / entry.audio)
    streamed, n = enc.features_stream(np.array_split(wav, 3))
    assert n == len(wav) and np.allclose(streamed, post, atol=1e-4)


def test_fit_with_the_phone_encoder_trains_its_classifier(spoken: Path, tmp_path: Path, monkeypatch, cli):
    from slmscale.units.bundle import SpeechTokenizer

    monkeypatch.setattr(phonenet, "PhoneNetConfig", functools.partial(PhoneNetConfig, steps=20, hidden=16))
    code, _, err = cli("units", "fit", "--manifest", str(spoken), "--encoder", "phone",
                       "--k", "12", "--out", str(tmp_path / "tok"))
    assert code == 0, err
    tok = SpeechTokenizer.load(tmp_path / "tok")
    assert tok.config.encoder.name == "phone" and tok.k == 12
    assert Path(tok.config.encoder.checkpoint) == (tmp_path / "tok" / "phonenet").resolve()
    assert tok.config.encoder.checkpoint_sha256  # the classifier's bytes are part of the identity
    from slmscale.data.manifest import read_manifest

    units, durations = tok.encode_file(spoken.parent / read_manifest(spoken)[0].audio)
    assert len(units) and durations.sum() > 0 and units.max() < 12
    code, _, err = cli("units", "fit", "--manifest", str(spoken), "--encoder", "phone",
                       "--layer", "3", "--k", "12", "--out", str(tmp_path / "tok2"))
    assert code == 2 and "do not apply to --encoder phone" in err


def test_errors_name_the_problem(tmp_path: Path):
    from slmscale.data.manifest import ManifestEntry, write_manifest

    man = tmp_path / "m.jsonl"
    (tmp_path / "a.wav").write_bytes(b"")
    write_manifest(man, [ManifestEntry(id="a", audio="a.wav", duration=1.0, sample_rate=16000)])
    with pytest.raises(UserError, match="no entry has phone alignments"):
        train_phonenet(man, tmp_path / "net", SMALL)
    with pytest.raises(ValueError, match="phone classifier directory"):
        EncoderConfig(name="phone")
    with pytest.raises(UserError, match="not a phone classifier"):
        build_encoder(EncoderConfig(name="phone", checkpoint=str(tmp_path)))


def test_a_moved_phone_bundle_uses_its_own_classifier(spoken: Path, tmp_path: Path, monkeypatch, cli):
    import shutil

    from slmscale.data.manifest import read_manifest
    from slmscale.units.bundle import SpeechTokenizer

    monkeypatch.setattr(phonenet, "PhoneNetConfig", functools.partial(PhoneNetConfig, steps=5, hidden=8))
    code, _, err = cli("units", "fit", "--manifest", str(spoken), "--encoder", "phone", "--k", "6",
                       "--out", str(tmp_path / "tok"))
    assert code == 0, err
    wav = spoken.parent / read_manifest(spoken)[0].audio
    before = SpeechTokenizer.load(tmp_path / "tok").encode_file(wav)[0]
    shutil.move(tmp_path / "tok", tmp_path / "moved")
    moved = SpeechTokenizer.load(tmp_path / "moved")
    assert Path(moved.config.encoder.checkpoint) == (tmp_path / "moved" / "phonenet").resolve()
    assert np.array_equal(moved.encode_file(wav)[0], before)
    (tmp_path / "moved" / "phonenet" / phonenet.WEIGHTS).write_bytes(b"changed")
    with pytest.raises(UserError, match="differs from the one the tokenizer was fitted with"):
        SpeechTokenizer.load(tmp_path / "moved")
