"""Named synthetic voices: an espeak-ng English accent, a voice variant, speaking rate and pitch.

Train and test voices are disjoint in accent *and* variant, so a model or probe that has only heard
the train voices meets genuinely new speakers in the test voices (the benchmarks use these by
default). A second held-out set keeps the accents and changes only the speaker (an unseen variant),
so a benchmark can tell a new voice from a new pronunciation: espeak-ng's accents differ in their
phone strings, not only in sound.

    train:        us-f1 us-m3 gb-f2 gb-m1 rp-f4 sc-m2 nyc-f3 us-m7   (American, British, RP, Scottish, NYC)
    test:         carib-f5 gbclan-m4 gbcwmd-m6                  (Caribbean, Lancashire, West Midlands)
    test-speaker: us-m6 gb-f5 rp-m4                             (training accents, unseen variants)

`--voices` options take these set names as well as voice names.
"""

from __future__ import annotations

from dataclasses import dataclass

from slmscale.errors import UserError


@dataclass(frozen=True)
class Voice:
    name: str
    espeak: str  # espeak-ng voice with variant, e.g. "en-us+f1"
    rate: int  # words per minute (espeak default 175)
    pitch: int  # base pitch 0-100 (default 50)
    pitch_range: int  # intonation range 0-100 (default 50)
    split: str  # "train", "test" (unseen accent and variant) or "test-speaker" (unseen variant)
    accent: str
    word_gap: int = 0  # extra pause between words, in 10 ms units (0 = natural speech)

    @property
    def key(self) -> tuple[str, int, int, int, int]:
        """What the synthesiser needs; equal keys give identical audio."""
        return (self.espeak, self.rate, self.pitch, self.pitch_range, self.word_gap)


_TABLE = [
    # name        espeak-ng voice          rate pitch range split    accent
    ("us-f1", "en-us+f1", 165, 55, 55, "train", "American English, female"),
    ("us-m3", "en-us+m3", 175, 45, 50, "train", "American English, male"),
    ("gb-f2", "en+f2", 160, 60, 60, "train", "British English, female"),
    ("gb-m1", "en+m1", 170, 40, 45, "train", "British English, male"),
    ("rp-f4", "en-gb-x-rp+f4", 185, 55, 50, "train", "Received Pronunciation, female, fast"),
    ("sc-m2", "en-gb-scotland+m2", 155, 45, 55, "train", "Scottish English, male, slow"),
    ("nyc-f3", "en-us-nyc+f3", 195, 60, 50, "train", "New York English, female, fast"),
    ("us-m7", "en-us+m7", 145, 35, 40, "train", "American English, male, slow and low"),
    ("carib-f5", "en-029+f5", 170, 60, 55, "test", "Caribbean English, female"),
    ("gbclan-m4", "en-gb-x-gbclan+m4", 160, 40, 50, "test", "Lancashire English, male"),
    ("gbcwmd-m6", "en-gb-x-gbcwmd+m6", 180, 50, 45, "test", "West Midlands English, male"),
    ("us-m6", "en-us+m6", 170, 45, 50, "test-speaker", "American English, male (new speaker)"),
    ("gb-f5", "en+f5", 175, 55, 50, "test-speaker", "British English, female (new speaker)"),
    ("rp-m4", "en-gb-x-rp+m4", 165, 40, 55, "test-speaker", "Received Pronunciation, male (new speaker)"),
]

VOICES: dict[str, Voice] = {row[0]: Voice(*row) for row in _TABLE}
# A set name is a split name: "train", "test", "test-speaker" (table order kept).
VOICE_SETS: dict[str, list[str]] = {}
for _v in VOICES.values():
    VOICE_SETS.setdefault(_v.split, []).append(_v.name)
del _v
TRAIN_VOICES: list[str] = VOICE_SETS["train"]
TEST_VOICES: list[str] = VOICE_SETS["test"]
SPEAKER_TEST_VOICES: list[str] = VOICE_SETS["test-speaker"]


def get_voice(voice: str | Voice) -> Voice:
    if isinstance(voice, Voice):
        return voice
    try:
        return VOICES[voice]
    except KeyError:
        raise UserError(f"unknown voice {voice!r}; choose from {', '.join(VOICES)} "
                        f"(or a set: {', '.join(VOICE_SETS)})") from None


def parse_voices(spec: str | list[str] | None) -> list[str]:
    """'a,b' or ['a', 'b'] -> validated voice names (duplicates dropped, order kept); a set name
    (train, test, test-speaker) stands for its voices. None means the training voices; an empty
    list is an error, never a silent default."""
    if spec is None:
        return list(TRAIN_VOICES)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for name in (n.strip() for n in names):
        for voice in VOICE_SETS.get(name, [name] if name else []):
            if get_voice(voice).name not in out:
                out.append(voice)
    if not out:
        raise UserError("voices: none given; choose from " + ", ".join([*VOICE_SETS, *VOICES]))
    return out
