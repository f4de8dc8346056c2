"""Speech-like synthetic audio for tests and benchmarks (no TTS needed).

An utterance is a seeded sequence of segments: voiced vowels (harmonics of a pitch shaped by
formant resonances), fricatives (band-passed noise), plosive bursts and pauses. A "voice" scales
pitch and formants, like a speaker would. It is not speech, but it has speech's frame statistics:
steady stretches, transitions, silence, many distinct spectra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slmscale.data.manifest import ManifestEntry, write_manifest

SR = 16000
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
          (660, 1720, 2410), (490, 1350, 1690), (570, 840, 2410), (440, 1020, 2240)]
FRICATIVES = [(2500, 4000), (4000, 7000), (1200, 2500), (5500, 7900)]
VOICES = {"low": (0.8, 0.9), "mid": (1.0, 1.0), "high": (1.5, 1.12), "child": (2.0, 1.25)}


def _vowel(n: int, rng: np.random.Generator, f0: float, formants: tuple, fscale: float) -> np.ndarray:
    t = np.arange(n) / SR
    f0_track = f0 * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    phase = 2 * np.pi * np.cumsum(f0_track) / SR
    out = np.zeros(n)
    for h in range(1, int(7600 / f0)):
        freq = h * f0
        amp = sum(np.exp(-0.5 * ((freq - f * fscale) / (60 + 0.06 * f)) ** 2) / (i + 1)
                  for i, f in enumerate(formants)) + 0.01
        out += amp / h ** 0.5 * np.sin(h * phase)
    return out / (np.abs(out).max() + 1e-9)


def _band_noise(n: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spec[(freqs < lo) | (freqs > hi)] = 0
    out = np.fft.irfft(spec, n)
    return out / (np.abs(out).max() + 1e-9)


def babble(seconds: float, seed: int, voice: str = "mid") -> np.ndarray:
    """About `seconds` of speech-like audio, float32 in [-1, 1], deterministic in (seed, voice)."""
    rng = np.random.default_rng(seed)
    pitch, fscale = VOICES[voice]
    target = int(seconds * SR)
    parts: list[np.ndarray] = []
    size = 0
    while size < target:
        kind = rng.choice(4, p=[0.55, 0.2, 0.1, 0.15])
        n = int(rng.uniform(0.05, 0.25) * SR)
        if kind == 0:
            seg = _vowel(n, rng, 120 * pitch * rng.uniform(0.9, 1.1), VOWELS[rng.integers(len(VOWELS))], fscale)
            seg *= rng.uniform(0.3, 0.8)
        elif kind == 1:
            lo, hi = FRICATIVES[rng.integers(len(FRICATIVES))]
            seg = _band_noise(n, rng, lo * fscale, min(hi * fscale, 7900)) * rng.uniform(0.05, 0.3)
        elif kind == 2:
            n = int(0.03 * SR)
            seg = _band_noise(n, rng, 300, 6000) * np.exp(-np.arange(n) / (0.006 * SR)) * 0.6
        else:
            seg = np.zeros(n)
        ramp = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.005 * SR))
        parts.append(seg * ramp)
        size += n
    # A faint noise floor, as every real recording has (keeps log spectra off their floor).
    wav = np.concatenate(parts)[:target] + rng.standard_normal(target) * 3e-4
    return np.clip(wav, -1, 1).astype(np.float32)


def write_babble_corpus(out_dir: str | Path, n: int, seconds: tuple[float, float] = (1.0, 3.0),
                        seed: int = 0, voices: tuple[str, ...] = tuple(VOICES)) -> Path:
    """Write `n` babble wavs (16 kHz) and `manifest.jsonl`; returns the manifest path."""
    import soundfile as sf

    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(n):
        voice = voices[i % len(voices)]
        wav = babble(float(rng.uniform(*seconds)), seed * 100_003 + i, voice)
        rel = f"audio/utt{i:05d}.wav"
        sf.write(str(out / rel), wav, SR, subtype="PCM_16")
        entries.append(ManifestEntry(id=f"utt{i:05d}", audio=rel, duration=len(wav) / SR,
                                     sample_rate=SR, voice=voice, text=""))
    write_manifest(out / "manifest.jsonl", entries)
    return out / "manifest.jsonl"


def make_tiny_hubert(path: str | Path, feat_extract_norm: str = "group", layers: int = 3) -> Path:
    """Save a random-weight HuBERT (hidden size 32, 50 Hz frames) with `save_pretrained`: a stand-in
    checkpoint for tests and demos of `--encoder hubert`; it builds in well under a second."""
    import torch
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    cfg = HubertConfig(hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=64,
                       conv_dim=(16, 16, 16), conv_stride=(5, 4, 16), conv_kernel=(10, 8, 16),
                       num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                       feat_extract_norm=feat_extract_norm, do_stable_layer_norm=feat_extract_norm == "layer")
    HubertModel(cfg).save_pretrained(path)
    return Path(path)


def write_two_sound_corpus(root: Path) -> Path:
    """Utterances alternating a 440 Hz tone ("aa") and a 2.5 kHz tone ("ss") every 0.5 s, "read" by two
    training and two held-out voices with identical audio; words and phones marked on the half seconds."""
    import soundfile as sf

    sr = 16000
    t = np.arange(sr // 2) / sr
    ramp = np.minimum(1.0, np.minimum(np.arange(len(t)), np.arange(len(t))[::-1]) / 800)  # no clicks
    parts = {"aa": 0.3 * ramp * np.sin(2 * np.pi * 440 * t), "ss": 0.3 * ramp * np.sin(2 * np.pi * 2500 * t)}
    (root / "audio").mkdir(parents=True)
    entries = []
    for i in range(8):
        order = ["aa", "ss"] * 3 if i % 2 == 0 else ["ss", "aa"] * 3
        wav = np.concatenate([parts[p] for p in order]).astype(np.float32)
        wav += np.random.default_rng(i).standard_normal(len(wav)).astype(np.float32) * 1e-3
        sf.write(root / "audio" / f"u{i}.wav", wav, sr)
        spans = [(p, k * 0.5, (k + 1) * 0.5) for k, p in enumerate(order)]
        for voice in ("us-f1", "us-m3", "carib-f5", "gbclan-m4"):
            entries.append(ManifestEntry(id=f"{voice}-u{i}", audio=f"audio/u{i}.wav", duration=3.0, sample_rate=sr,
                                         voice=voice, words=[("tone" if p == "aa" else "hiss", s, e) for p, s, e in spans],
                                         phones=spans))
    write_manifest(root / "manifest.jsonl", entries)
    return root / "manifest.jsonl"
