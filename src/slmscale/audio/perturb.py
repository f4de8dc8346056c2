"""Content-preserving perturbations of 16 kHz speech: speed, pitch, formants (vocal-tract length), noise.

They make one utterance sound like another speaker saying the same thing, so an encoder trained to
give the same answer for both learns what was said rather than who said it (no text needed).

- `speed(wav, f)`: resampling (soxr), as in Kaldi-style speed perturbation: duration / f, and pitch
  and formants x f together.
- `pitch_shift(wav, semitones)`: phase-vocoder time stretch, then resampling back to the original
  duration: the whole spectrum (pitch and formants) moves by 2^(semitones/12).
- `formant_shift(wav, ratio)`: vocal-tract-length perturbation that keeps the pitch: the spectral
  envelope (low-quefrency cepstrum of each STFT frame) is warped along frequency by `ratio` while
  the harmonics (fine structure) stay where they were.
- `voice_change(wav, pitch_ratio, formant_ratio)`: both, independently (pitch shift, then the
  formants are moved back to `formant_ratio`).
- `add_noise(wav, snr_db, rng)`: white or pink Gaussian noise at a signal-to-noise ratio.
`draw_speed` and `augment` draw random combinations from a `PerturbConfig`.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from slmscale.config import StrictModel

SR = 16000
N_FFT = 512
HOP = 128
# Cepstral coefficients kept for the envelope: quefrency < 1.9 ms, below the pitch period of any
# voice under ~500 Hz, so the envelope carries formants and not harmonics.
ENVELOPE_QUEFRENCY = 30


class PerturbConfig(StrictModel):
    """Ranges of the random perturbations (each drawn uniformly per crop; 0 or None switches it off)."""

    speed: float = Field(default=0.1, ge=0, lt=0.5, description="speed factor in [1-s, 1+s]")
    pitch_semitones: float = Field(default=4.0, ge=0, le=12, description="pitch shift in [-p, +p]")
    formant: float = Field(default=0.15, ge=0, lt=0.5, description="formant ratio in [1-f, 1+f]")
    noise_snr_db: tuple[float, float] | None = Field(default=(10.0, 30.0), description="SNR range, dB")
    prob: float = Field(default=0.8, ge=0, le=1, description="chance that a crop is perturbed at all")

    @model_validator(mode="after")
    def _check(self) -> "PerturbConfig":
        if self.noise_snr_db is not None and self.noise_snr_db[0] > self.noise_snr_db[1]:
            raise ValueError(f"noise_snr_db {self.noise_snr_db}: low end above high end")
        return self


def speed(wav: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster: len(wav) / factor samples, pitch and formants x factor."""
    import soxr

    if factor == 1.0:
        return np.asarray(wav, dtype=np.float32)
    return soxr.resample(np.asarray(wav, dtype=np.float32), SR * factor, SR, quality="HQ").astype(np.float32)


def _stft(wav: np.ndarray) -> np.ndarray:
    from scipy.signal import stft

    return stft(wav, fs=SR, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP)[2]


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    from scipy.signal import istft

    y = istft(spec, fs=SR, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP)[1]
    return np.pad(y, (0, max(0, length - len(y))))[:length]


def time_stretch(wav: np.ndarray, rate: float) -> np.ndarray:
    """Phase vocoder: about len(wav) / rate samples, pitch kept. Each output frame reads the input at
    a fractional position (magnitudes interpolated) and advances every bin's phase by the phase
    difference measured there, so partials stay continuous."""
    spec = _stft(np.asarray(wav, dtype=np.float64))
    n_bins, n_frames = spec.shape
    positions = np.arange(0, n_frames - 1, rate)
    expected = 2 * np.pi * HOP * np.arange(n_bins) / N_FFT  # each bin's phase advance per hop
    phase = np.angle(spec[:, 0])
    out = np.empty((n_bins, len(positions)), dtype=np.complex128)
    for j, t in enumerate(positions):
        i, frac = int(t), t - int(t)
        left, right = spec[:, i], spec[:, i + 1]
        out[:, j] = ((1 - frac) * np.abs(left) + frac * np.abs(right)) * np.exp(1j * phase)
        delta = np.angle(right) - np.angle(left) - expected
        phase = phase + expected + (delta - 2 * np.pi * np.round(delta / (2 * np.pi)))
    return _istft(out, int(round(len(wav) / rate)))


def pitch_shift(wav: np.ndarray, semitones: float) -> np.ndarray:
    """Same duration, spectrum (pitch and formants) scaled by 2^(semitones/12): stretch by the
    ratio, then resample to the original length (which raises everything by the ratio)."""
    import soxr

    wav = np.asarray(wav, dtype=np.float32)
    if semitones == 0 or len(wav) < N_FFT:
        return wav
    ratio = 2.0 ** (semitones / 12.0)
    longer = time_stretch(wav, 1.0 / ratio)
    out = soxr.resample(longer, SR * ratio, SR, quality="HQ")
    return np.pad(out, (0, max(0, len(wav) - len(out))))[:len(wav)].astype(np.float32)


def _warp_bins(ratio: float, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear-interpolation indices so that out[f] = in[f / ratio] (edge bins repeated)."""
    src = np.clip(np.arange(n_bins) / ratio, 0, n_bins - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_bins - 1)
    return lo, hi, (src - lo)[:, None]


def formant_shift(wav: np.ndarray, ratio: float) -> np.ndarray:
    """Move the spectral envelope (formants) by `ratio`, keep the harmonics (pitch) and the length."""
    wav = np.asarray(wav, dtype=np.float32)
    if ratio == 1.0 or len(wav) < N_FFT:
        return wav
    spec = _stft(wav)
    log_mag = np.log(np.abs(spec) + 1e-7)
    ceps = np.fft.irfft(log_mag, n=N_FFT, axis=0)
    ceps[ENVELOPE_QUEFRENCY:N_FFT - ENVELOPE_QUEFRENCY + 1] = 0.0
    envelope = np.fft.rfft(ceps, axis=0).real
    lo, hi, w = _warp_bins(ratio, envelope.shape[0])
    warped = envelope[lo] * (1 - w) + envelope[hi] * w
    out = spec * np.exp(warped - envelope)
    return _istft(out, len(wav)).astype(np.float32)


def voice_change(wav: np.ndarray, pitch_ratio: float, formant_ratio: float) -> np.ndarray:
    """Pitch x pitch_ratio and formants x formant_ratio, independently; same length."""
    out = pitch_shift(wav, 12.0 * np.log2(pitch_ratio)) if pitch_ratio != 1.0 else wav
    return formant_shift(out, formant_ratio / pitch_ratio)


def add_noise(wav: np.ndarray, snr_db: float, rng: np.random.Generator, color: str = "white") -> np.ndarray:
    """wav + Gaussian noise scaled to `snr_db` below the signal's mean power (white or pink)."""
    wav = np.asarray(wav, dtype=np.float32)
    noise = rng.standard_normal(len(wav))
    if color == "pink":  # 1/f power: scale the spectrum by 1/sqrt(f)
        spec = np.fft.rfft(noise)
        spec[1:] /= np.sqrt(np.arange(1, len(spec)))
        spec[0] = 0
        noise = np.fft.irfft(spec, n=len(wav))
    power = float(np.mean(wav.astype(np.float64) ** 2))
    noise_power = float(np.mean(noise ** 2)) or 1.0
    scale = np.sqrt(power / noise_power / 10 ** (snr_db / 10))
    return (wav + scale * noise).astype(np.float32)


def draw_speed(cfg: PerturbConfig, rng: np.random.Generator) -> float:
    """A speed factor for one crop (1.0 when speed perturbation is off or the crop stays clean)."""
    apply = rng.random() < cfg.prob
    factor = float(rng.uniform(1 - cfg.speed, 1 + cfg.speed))
    return factor if apply and cfg.speed > 0 else 1.0


def augment(wav: np.ndarray, cfg: PerturbConfig, rng: np.random.Generator, pitch: bool = False,
            force: bool = False) -> np.ndarray:
    """A length-preserving "other voice" of `wav`: random formant ratio (and, with `pitch`, pitch
    shift) and noise from `cfg`. Combined with `speed`, which already moves pitch and formants
    together, the formant draw makes pitch and vocal-tract length vary independently.

    With probability 1 - cfg.prob the crop comes back unchanged (unless `force`). Every draw is
    made either way, so the random stream does not depend on which branch was taken.
    """
    apply = rng.random() < cfg.prob or force
    pitch_ratio = 2 ** (rng.uniform(-cfg.pitch_semitones, cfg.pitch_semitones) / 12)
    formant = rng.uniform(1 - cfg.formant, 1 + cfg.formant)
    snr = rng.uniform(*cfg.noise_snr_db) if cfg.noise_snr_db is not None else None
    color = "pink" if rng.random() < 0.5 else "white"
    noise_seed = int(rng.integers(2**31))
    if not apply:
        return np.asarray(wav, dtype=np.float32)
    out = voice_change(wav, float(pitch_ratio) if pitch else 1.0, float(formant))
    if snr is not None:
        out = add_noise(out, float(snr), np.random.default_rng(noise_seed), color)
    return out
