from pathlib import Path

import numpy as np
import pytest

import support
from slmscale.units.melbank import hz_to_mel, mel_filterbank, mel_to_hz

# librosa.filters.mel(sr=16000, n_fft, n_mels, fmin=20, fmax=7600) stored by
# tests/support/make_librosa_reference.py while librosa was a dependency.
REFERENCE = Path(support.__file__).parent / "librosa_reference.npz"


@pytest.mark.parametrize("n_fft,n_mels", [(512, 40), (1024, 40), (1024, 64), (512, 80)])
def test_filterbank_matches_librosa(n_fft, n_mels):
    ref = np.load(REFERENCE)[f"mel_{n_fft}_{n_mels}"]
    mine = mel_filterbank(16000, n_fft, n_mels, fmin=20.0, fmax=7600.0)
    assert mine.shape == ref.shape == (n_mels, n_fft // 2 + 1) and mine.dtype == np.float32
    np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-8)


def test_slaney_scale_is_linear_below_1khz_and_inverts():
    assert hz_to_mel(1000.0) == pytest.approx(15.0) and hz_to_mel(500.0) == pytest.approx(7.5)
    hz = np.array([0.0, 20.0, 999.0, 1000.0, 4321.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)


def test_filters_have_equal_area_and_zero_outside_the_band():
    w = mel_filterbank(16000, 512, 40, fmin=20.0, fmax=7600.0)
    freqs = np.fft.rfftfreq(512, 1 / 16000)
    assert (w >= 0).all() and np.all(w[:, (freqs < 20) | (freqs > 7600)] == 0)
    # Slaney norm: each triangle has peak 2 / (its bandwidth), so peak * bandwidth / 2 == 1.
    edges = mel_to_hz(np.linspace(hz_to_mel(20.0), hz_to_mel(7600.0), 42))
    peaks_if_sampled = 2 / (edges[2:] - edges[:-2])
    assert np.all(w.max(axis=1) <= peaks_if_sampled * (1 + 1e-6))
