"""A corpus whose two voices differ only by gain: us-f1 (a training voice) and, at QUIET, carib-f5
(a held-out voice) say the same tone sequences. Read through RAW_LOGMEL features the second voice
is the first shifted by -30 dB in every band, farther apart than the two sounds are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slmscale.units.encoders import EncoderConfig

QUIET = 0.03
RAW_LOGMEL = EncoderConfig(name="logmel", context=0, cmvn=False)


def gain_corpus(root: Path, quiet_voice_items: int = 8) -> Path:
    """Utterances of a 440 Hz tone ("aa") alternating with a 2.5 kHz tone ("ss"), 0.5 s each,
    said by voice us-f1 and, at gain QUIET, by voice carib-f5; phones marked."""
    import soundfile as sf

    from slmscale.data.manifest import ManifestEntry, write_manifest

    sr = 16000
    t = np.arange(sr // 2) / sr
    ramp = np.minimum(1.0, np.minimum(np.arange(len(t)), np.arange(len(t))[::-1]) / 800)
    parts = {"aa": 0.3 * ramp * np.sin(2 * np.pi * 440 * t), "ss": 0.3 * ramp * np.sin(2 * np.pi * 2500 * t)}
    (root / "audio").mkdir(parents=True)
    entries = []
    for i in range(8):
        order = ["aa", "ss"] * 3 if i % 2 == 0 else ["ss", "aa"] * 3
        wav = np.concatenate([parts[p] for p in order])
        wav = wav + np.random.default_rng(i).standard_normal(len(wav)) * 1e-3
        spans = [(p, k * 0.5, (k + 1) * 0.5) for k, p in enumerate(order)]
        for voice, gain, n in (("us-f1", 1.0, 8), ("carib-f5", QUIET, quiet_voice_items)):
            if i >= n:
                continue
            sf.write(root / "audio" / f"{voice}-u{i}.wav", (gain * wav).astype(np.float32), sr)
            entries.append(ManifestEntry(id=f"{voice}-u{i}", audio=f"audio/{voice}-u{i}.wav", duration=3.0,
                                         sample_rate=sr, voice=voice, phones=spans,
                                         words=[("tone" if p == "aa" else "hiss", s, e) for p, s, e in spans]))
    write_manifest(root / "manifest.jsonl", entries)
    return root / "manifest.jsonl"
