import numpy as np
import pytest
from pydantic import ValidationError

from slmscale.audio.perturb import (PerturbConfig, add_noise, augment, draw_speed, formant_shift, pitch_shift,
                                    speed, voice_change)

SR = 16000


def _peak_hz(wav: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.fft.rfftfreq(len(wav), 1 / SR)[spec.argmax()])


def _sine(freq: float, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def _vowel(f0: float = 150.0, formant: float = 1000.0, seconds: float = 1.0) -> np.ndarray:
    """Harmonics of f0 under one Gaussian resonance at `formant` Hz."""
    t = np.arange(int(seconds * SR)) / SR
    out = sum(np.exp(-0.5 * ((h * f0 - formant) / 150) ** 2) * np.sin(2 * np.pi * h * f0 * t)
              for h in range(1, int(7000 / f0)))
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def test_speed_changes_duration_and_pitch_together():
    out = speed(_sine(200.0), 1.25)
    assert abs(len(out) - SR / 1.25) <= 2
    assert abs(_peak_hz(out) - 250.0) < 3
    assert speed(_sine(200.0), 1.0).shape == (SR,)


def test_pitch_shift_keeps_duration():
    out = pitch_shift(_sine(200.0), 12.0)  # one octave up
    assert len(out) == SR
    assert abs(_peak_hz(out) - 400.0) < 5


def test_formant_shift_moves_the_envelope_not_the_harmonics():
    wav = _vowel(150.0, 1050.0)
    out = formant_shift(wav, 1.3)
    assert len(out) == len(wav)
    spec = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    freqs = np.fft.rfftfreq(len(out), 1 / SR)
    # The strongest harmonic moves from 1050 Hz towards 1.3 x 1050 = 1365 Hz ...
    assert abs(_peak_hz(wav) - 1050) < 10 and abs(_peak_hz(out) - 1350) <= 150
    # ... but energy stays on multiples of 150 Hz (the pitch is unchanged).
    on = sum(spec[np.abs(freqs - h * 150).argmin()] for h in range(4, 14))
    off = sum(spec[np.abs(freqs - (h + 0.5) * 150).argmin()] for h in range(4, 14))
    assert on > 20 * off


def test_voice_change_sets_pitch_and_formants_independently():
    wav = _vowel(150.0, 1050.0)
    out = voice_change(wav, pitch_ratio=2 ** (4 / 12), formant_ratio=1.0)  # pitch up, formants kept
    spec = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    freqs = np.fft.rfftfreq(len(out), 1 / SR)
    f0 = 150 * 2 ** (4 / 12)
    on = sum(spec[np.abs(freqs - h * f0).argmin()] for h in range(3, 10))
    off = sum(spec[np.abs(freqs - h * 150).argmin()] for h in range(3, 10))
    assert on > 3 * off  # the harmonics moved
    assert abs(_peak_hz(out) - 1050) < 200  # the resonance stayed


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
@pytest.mark.parametrize("color", ["white", "pink"])
def test_noise_has_the_requested_snr(snr, color):
    wav = _sine(300.0, 2.0)
    out = add_noise(wav, snr, np.random.default_rng(0), color)
    noise = out.astype(np.float64) - wav
    measured = 10 * np.log10(np.mean(wav.astype(np.float64) ** 2) / np.mean(noise ** 2))
    assert abs(measured - snr) < 0.1


def test_augment_is_seeded_and_can_be_off():
    wav = _vowel()
    cfg = PerturbConfig(prob=1.0)
    a = augment(wav, cfg, np.random.default_rng(3), pitch=True)
    b = augment(wav, cfg, np.random.default_rng(3), pitch=True)
    assert np.array_equal(a, b) and len(a) == len(wav) and not np.allclose(a, wav)
    off = PerturbConfig(prob=0.0)
    rng = np.random.default_rng(3)
    assert np.array_equal(augment(wav, off, rng), wav)
    assert draw_speed(off, rng) == 1.0
    factors = [draw_speed(PerturbConfig(prob=1.0, speed=0.1), rng) for _ in range(200)]
    assert 0.9 <= min(factors) < 0.95 and 1.05 < max(factors) <= 1.1


def test_config_rejects_bad_ranges():
    with pytest.raises(ValidationError):
        PerturbConfig(noise_snr_db=(30.0, 10.0))
    with pytest.raises(ValidationError):
        PerturbConfig(speed=0.7)
    with pytest.raises(ValidationError):
        PerturbConfig(unknown=1)
