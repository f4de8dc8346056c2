"""Audio loading: every encoding, rate and channel layout loads; every malformed kind is refused."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from support.audio_zoo import make_audio_zoo, tone
from slmscale.audio.io import AudioError, iter_audio_chunks, load_audio, probe_audio, verify_audio
from slmscale.errors import UserError


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    good, bad = make_audio_zoo(root)
    return root, good, bad


def _dominant_hz(wav: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.fft.rfftfreq(len(wav), 1 / sr)[np.argmax(spec)])


def test_good_files_load_as_16k_mono_float(zoo):
    root, good, _ = zoo
    for name, seconds in good.items():
        wav = load_audio(root / name)
        assert wav.dtype == np.float32 and wav.ndim == 1, name
        assert abs(len(wav) - seconds * 16000) <= 2, name
        assert np.abs(wav).max() <= 1.0
        # The 220 Hz tone survives decoding and resampling (8-bit is coarse but keeps the pitch).
        assert abs(_dominant_hz(wav, 16000) - 220.0) < 2.0, name
        expected_amp = 0.3 * (0.5 + 1.0) / 2 if name.startswith("stereo") else 0.3
        assert abs(np.abs(wav[100:-100]).max() - expected_amp) < 0.01, name


def test_probe_reports_native_format(zoo):
    root, _, _ = zoo
    info = probe_audio(root / "stereo_44k.wav")
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 44100)
    assert info.duration == pytest.approx(1.0)
    assert probe_audio(root / "pcm24_48k.wav").subtype == "PCM_24"
    assert probe_audio(root / "pcm_u8_8k.wav").subtype == "PCM_U8"


def test_bad_files_raise_audio_error_with_reason(zoo):
    root, _, bad = zoo
    for name, phrase in bad.items():
        for read in (load_audio, verify_audio, lambda p: list(iter_audio_chunks(p, chunk_seconds=0.1))):
            with pytest.raises(AudioError) as info:
                read(root / name)
            assert phrase in info.value.reason, (name, info.value.reason)
            assert "\n" not in str(info.value) and name in str(info.value)
            assert isinstance(info.value, UserError)


def test_target_rate_is_honoured(zoo):
    root, _, _ = zoo
    wav = load_audio(root / "pcm24_48k.wav", target_sr=8000)
    assert len(wav) == 8000
    assert abs(_dominant_hz(wav, 8000) - 220.0) < 2.0


def test_chunks_match_whole_file_resampling(tmp_path):
    sr = 22050
    data = tone(7.3, sr, freq=330.0, channels=2)
    sf.write(tmp_path / "x.wav", data, sr, subtype="PCM_16")
    whole = load_audio(tmp_path / "x.wav")
    chunks = list(iter_audio_chunks(tmp_path / "x.wav", chunk_seconds=2.0))
    assert len(chunks) >= 4
    # Every chunk but the last two (resampler delay) is close to 2 s at 16 kHz.
    assert all(abs(len(c) - 32000) < 200 for c in chunks[1:-2])
    joined = np.concatenate(chunks)
    assert abs(len(joined) - len(whole)) <= 2
    n = min(len(joined), len(whole))
    assert np.max(np.abs(joined[:n] - whole[:n])) < 1e-3


def test_chunks_without_resampling_are_exact(zoo):
    root, _, _ = zoo
    whole = load_audio(root / "pcm16_16k.wav")
    chunks = list(iter_audio_chunks(root / "pcm16_16k.wav", chunk_seconds=0.25))
    assert [len(c) for c in chunks] == [4000] * 4
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_nan_found_late_in_a_stream_names_its_time(tmp_path):
    data = tone(3.0, 16000)
    data[int(2.5 * 16000)] = np.nan
    sf.write(tmp_path / "late.wav", data, 16000, subtype="FLOAT")
    seen = []
    with pytest.raises(AudioError, match=r"2\.500 s"):
        for chunk in iter_audio_chunks(tmp_path / "late.wav", chunk_seconds=1.0):
            seen.append(chunk)
    assert len(seen) == 2  # the good chunks before the bad one were delivered


def test_hour_long_file_streams_in_constant_memory(tmp_path):
    """An hour at 8 kHz (58 MB on disk, 230 MB as float32 at 16 kHz) streams with a small peak."""
    sr, path = 8000, tmp_path / "hour.wav"
    minute = tone(60.0, sr, freq=440.0)
    with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16") as fh:
        for _ in range(60):
            fh.write(minute)
    assert probe_audio(path).duration == pytest.approx(3600.0)
    tracemalloc.start()
    total = 0
    for chunk in iter_audio_chunks(path, chunk_seconds=30.0):
        total += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(total - 3600 * 16000) <= 2
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB: the file was not streamed"
    assert verify_audio(path).frames == 3600 * sr
