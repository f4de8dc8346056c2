"""Spoken durations: exactly the length of what `tts` speaks, per voice, repeats spoken once."""

from __future__ import annotations

import pytest

from slmscale.audio.durations import spoken_seconds
from slmscale.audio.tts import SAMPLE_RATE, synthesize
from slmscale.errors import UserError


def test_durations_are_the_spoken_lengths_per_voice():
    texts = ["The cat sat.", "There was every bee in the yard.", "The cat sat."]
    voices = ["carib-f5", "us-m7"]
    durs = spoken_seconds(texts, voices)
    assert len(durs) == 3 and durs[0] == durs[2] and all(len(d) == 2 for d in durs)
    for text, d in zip(texts[:2], durs):
        for voice, secs in zip(voices, d):
            assert secs == pytest.approx(len(synthesize(text, voice)[0]) / SAMPLE_RATE, abs=0.02)
    assert durs[1][0] > durs[0][0]  # more words take longer
    assert durs[0][1] > durs[0][0]  # us-m7 speaks slower than carib-f5


def test_an_unspeakable_text_is_a_user_error():
    with pytest.raises(UserError, match="cannot time"):
        spoken_seconds(["..."], ["carib-f5"])


def test_durations_do_not_depend_on_the_worker_count():
    # ~60 sentences x 2 voices: several engine runs of BATCH_CHARS, spread over processes or not
    texts = [f"The {w} saw {n} small birds near the old mill today." for w in ("cat", "dog", "fox")
             for n in ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "many",
                       "some", "few", "all", "no", "ten more", "a lot of", "eleven", "twelve", "twenty", "forty")]
    voices = ["carib-f5", "us-m7"]
    assert spoken_seconds(texts, voices, workers=2) == spoken_seconds(texts, voices, workers=1)
