"""espeak-ng synthesis: format, voices, determinism and word timings checked against the audio."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from slmscale.audio.tts import PAUSE_S, split_sentences, synthesize, synthesize_batch
from slmscale.audio.voices import (SPEAKER_TEST_VOICES, TEST_VOICES, TRAIN_VOICES, VOICES, get_voice,
                                   parse_voices)
from slmscale.errors import UserError

SR = 16000
# Sonorant words (no long stop closures inside), so a word is one voiced stretch and the pauses
# that commas and full stops put between them are the only long silences.
LISTS = ["Morning, yellow, river, lemon, window, summer.",
         "Evening, mellow, ravine, melon, arrow, winter.",
         "Moon, lion, rainy, owl, honey, willow."]


def _speech_segments(wav: np.ndarray, min_gap_s: float = 0.1, db: float = -35.0) -> list[tuple[float, float]]:
    """Voiced stretches found independently of the synthesiser: 10 ms RMS above `db` of the peak,
    gaps shorter than `min_gap_s` bridged, blips under 40 ms dropped."""
    hop = SR // 100
    n = len(wav) // hop
    rms = np.sqrt(np.mean(wav[: n * hop].reshape(n, hop) ** 2, axis=1))
    on = rms > rms.max() * 10 ** (db / 20)
    segs: list[list[float]] = []
    for i in np.flatnonzero(on):
        t0, t1 = i * hop / SR, (i + 1) * hop / SR
        if segs and t0 - segs[-1][1] < min_gap_s:
            segs[-1][1] = t1
        else:
            segs.append([t0, t1])
    return [(a, b) for a, b in segs if b - a > 0.04]


def _assert_words_on_segments(text, wav, words, segs):
    assert [w for w, _, _ in words] == [t.strip(",.") for t in text.split()]
    assert len(segs) == len(words), (segs, words)
    for (word, start, end), (a, b) in zip(words, segs):
        assert abs(start - a) < 0.05, (word, start, a)
        assert abs(end - b) < 0.05, (word, end, b)
    assert words[-1][2] <= len(wav) / SR + 1e-6


def test_word_times_match_the_audio_within_50ms():
    """Natural speech: commas and full stops put pauses between the words of these lists. Every
    word's (start, end) must sit on its own voiced stretch; any drift > 50 ms fails, whether from
    a wrong sample rate, lost sentence offsets or pauses counted into words."""
    text = " ".join(LISTS)
    wav, words = synthesize(text, "us-m7")
    _assert_words_on_segments(text, wav, words, _speech_segments(wav))


# Voices without the echo effect (their echo tails would merge into the detector's segments).
@pytest.mark.parametrize("voice", ["us-f1", "us-m3", "gb-m1", "gbclan-m4"])
def test_word_times_within_sentences_with_word_gaps(voice):
    """espeak's word-gap parameter puts 250 ms of silence between all words, so each word of
    ordinary sentences is its own voiced stretch: checks start and end of every word."""
    text = "Many lions ran along the river. The moon was rainy. Morning rain was warm."
    wav, words = synthesize(text, dataclasses.replace(get_voice(voice), word_gap=25))
    _assert_words_on_segments(text, wav, words, _speech_segments(wav, min_gap_s=0.15, db=-30))


def test_sentences_are_joined_with_exact_offsets():
    """A sentence spoken inside a story is found (by cross-correlation) exactly where its word
    times put it; a timing bug that only shows after the first sentence would fail here."""
    first, second = "The cat sat on the mat.", "Then it went to sleep in the sun."
    wav, words = synthesize(f"{first} {second}", "gb-f2")
    alone, alone_words = synthesize(second, "gb-f2")
    corr = np.correlate(wav, alone[: len(alone) // 2], mode="valid")
    lag = int(np.argmax(corr)) / SR
    n_first = [w for w, _, _ in words].index("Then")
    assert " ".join(w for w, _, _ in words[:n_first]) == first.rstrip(".")
    # Where the second sentence was found minus where its first word starts when spoken alone.
    assert abs((words[n_first][1] - alone_words[0][1]) - lag) < 0.01
    gap = words[n_first][1] - words[n_first - 1][2]
    assert PAUSE_S - 0.01 < gap < PAUSE_S + 0.2  # only the inter-sentence pause and a short tail


def test_output_format_and_word_order():
    wav, words = synthesize("Hello, my name is Lily. I have 42 red balloons!", "us-f1")
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert 0.05 < np.abs(wav).max() <= 1.0
    assert [w for w, _, _ in words] == ["Hello", "my", "name", "is", "Lily", "I", "have", "42", "red",
                                       "balloons"]
    starts = [s for _, s, _ in words]
    assert starts == sorted(starts) and all(s <= e for _, s, e in words)
    assert all(e <= s2 + 1e-9 for (_, _, e), (_, s2, _) in zip(words, words[1:]))
    wav22, words22 = synthesize("Hello, my name is Lily. I have 42 red balloons!", "us-f1", sample_rate=22050)
    assert abs(len(wav22) / 22050 - len(wav) / SR) < 1e-3 and words22 == words
    # "42" is spoken as "forty two": one word spanning both.
    w42 = dict((w, (s, e)) for w, s, e in words)["42"]
    assert w42[1] - w42[0] > 0.35


def test_every_token_is_in_exactly_one_word_item():
    """espeak-ng speaks some function words inside a neighbour ("on the"); they join that item."""
    text = 'The cat sat on the mat, in the house of a friend. "Hi," said Tom — and ran off!'
    _, words = synthesize(text, "rp-f4")
    tokens = [t.strip('",.!—') for t in text.split()]
    assert " ".join(w for w, _, _ in words).split() == [t for t in tokens if t]
    assert "on the" in [w for w, _, _ in words]
    # After a full stop espeak-ng does not take as a sentence end, its event points at the space.
    _, words = synthesize("It was summer. evening came soon.", "us-m3")
    assert [w for w, _, _ in words] == ["It", "was", "summer", "evening", "came", "soon"]


def test_same_text_same_bytes_whatever_came_before():
    a, wa = synthesize("One two three.", "us-m3")
    synthesize("Something else entirely, spoken by another voice!", "rp-f4")
    b, wb = synthesize("One two three.", "us-m3")
    assert a.tobytes() == b.tobytes() and wa == wb


def test_voices_are_distinct_and_split():
    assert len(VOICES) >= 8 and len(TRAIN_VOICES) >= 6 and len(TEST_VOICES) >= 2
    assert not set(TRAIN_VOICES) & set(TEST_VOICES)
    # Held-out voices share neither accent nor variant with any training voice.
    def accent(n): return get_voice(n).espeak.split("+")[0]
    def variant(n): return get_voice(n).espeak.split("+")[1]
    assert not {accent(n) for n in TEST_VOICES} & {accent(n) for n in TRAIN_VOICES}
    assert not {variant(n) for n in TEST_VOICES} & {variant(n) for n in TRAIN_VOICES}
    # The new-speaker set: training accents, variants no training voice uses.
    assert len(SPEAKER_TEST_VOICES) == len(TEST_VOICES)
    assert not set(SPEAKER_TEST_VOICES) & (set(TRAIN_VOICES) | set(TEST_VOICES))
    assert {accent(n) for n in SPEAKER_TEST_VOICES} <= {accent(n) for n in TRAIN_VOICES}
    assert not {variant(n) for n in SPEAKER_TEST_VOICES} & {variant(n) for n in TRAIN_VOICES}
    outs = synthesize_batch([("The little dog ran home.", v) for v in VOICES])
    lengths = {len(o[0]) for o in outs}
    hashes = {o[0].tobytes() for o in outs}
    assert len(hashes) == len(VOICES) and len(lengths) > len(VOICES) // 2


def test_voice_variants_exist_in_espeak_data():
    """espeak-ng silently ignores an unknown "+variant", so check the files are really there."""
    from pathlib import Path

    import espeakng_loader

    data = Path(espeakng_loader.get_data_path())
    for v in VOICES.values():
        lang, variant = v.espeak.split("+")
        assert (data / "voices" / "!v" / variant).is_file(), v
        assert any(p.name.lower() == lang for p in (data / "lang").rglob("*")), v


def test_bad_requests():
    with pytest.raises(UserError, match="unknown voice"):
        synthesize("hi", "nobody")
    with pytest.raises(UserError, match="empty text"):
        synthesize("  ... ", "us-f1")
    res = synthesize_batch([("fine.", "us-f1"), ("", "us-f1"), ("also fine.", "gb-m1")])
    assert isinstance(res[1], str) and not isinstance(res[0], str) and not isinstance(res[2], str)
    with pytest.raises(UserError, match="unknown voice"):
        parse_voices("us-f1,nobody")
    assert parse_voices("us-f1, gb-m1,us-f1") == ["us-f1", "gb-m1"]
    assert parse_voices(None) == TRAIN_VOICES
    # set names stand for their voices, duplicates still dropped
    assert parse_voices("test-speaker,us-m6,test") == SPEAKER_TEST_VOICES + TEST_VOICES
    assert parse_voices(["train"]) == TRAIN_VOICES
    for empty in ([], "", " , "):  # an empty list is an error, only None means the default
        with pytest.raises(UserError, match="voices: none given"):
            parse_voices(empty)


def test_split_sentences():
    assert split_sentences('He said "Go!" Then he left.  Done?  Yes') == ['He said "Go!"', "Then he left.",
                                                                         "Done?", "Yes"]
    assert split_sentences(" . ! ") == []
    assert split_sentences("Mr. Brown met Dr. Lee. they said hi... Then? Yes.") == [
        "Mr. Brown met Dr. Lee. they said hi...", "Then?", "Yes."]


def test_same_bytes_in_a_fresh_process():
    """espeak-ng seeds its breath noise from the clock; gb-f2 and nyc-f3 use breath, so without
    the fixed seed a second process gives other bytes."""
    import hashlib
    import subprocess
    import sys

    code = ("import hashlib; from slmscale.audio.tts import synthesize; "
            "print(hashlib.sha256(b''.join(synthesize('A quiet fox slept.', v)[0].tobytes() "
            "for v in ('gb-f2', 'nyc-f3'))).hexdigest())")
    here = hashlib.sha256(b"".join(synthesize("A quiet fox slept.", v)[0].tobytes()
                                   for v in ("gb-f2", "nyc-f3"))).hexdigest()
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert there.stdout.strip() == here


def test_phone_spans_follow_the_words_and_cover_only_speech():
    """espeak-ng's phoneme events become (phone, start, end) spans: ordered, non-overlapping,
    inside the audio; each word's span holds that word's phones (stress marks kept)."""
    text = "The little dog ran home. A quiet fox slept."
    (res,) = synthesize_batch([(text, "us-m3")], phones=True)
    wav, words, phones = res
    assert [p for p, _, _ in phones][:3] == ["D", "@2", "l"]  # "the little" in espeak's mnemonics
    ends = [e for _, _, e in phones]
    starts = [s for _, s, _ in phones]
    assert all(a < b for a, b in zip(starts, ends)) and all(b <= c for b, c in zip(ends, starts[1:]))
    assert ends[-1] <= len(wav) / SR + 1e-6
    home = next((s, e) for w, s, e in words if w == "home")
    inside = [p for p, s, e in phones if s >= home[0] - 1e-3 and e <= home[1] + 1e-3]
    assert [p.lstrip("',") for p in inside] == ["h", "oU", "m"]
    # The same request without phones gives the same audio and words.
    wav2, words2 = synthesize_batch([(text, "us-m3")])[0]
    assert np.array_equal(wav, wav2) and words == words2
