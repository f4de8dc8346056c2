"""Audio in and out: safe loading/resampling (`io`), espeak-ng voices and synthesis (`voices`, `tts`)."""

from slmscale.audio.io import AudioError, AudioInfo, iter_audio_chunks, load_audio, probe_audio, verify_audio

__all__ = ["AudioError", "AudioInfo", "iter_audio_chunks", "load_audio", "probe_audio", "verify_audio"]
