"""How tests/support/librosa_reference.npz was made (librosa 0.11.0, 2026-11-30), before librosa was
dropped from the dependencies: librosa's mel filterbanks (sr 16 kHz, fmin 20, fmax 7600, Slaney
scale and norm, its defaults) and librosa MFCCs of `babble(1.3, seed=1)` with the framing of the
built-in 25/50 Hz encoders. Run from the repo root with librosa installed:
    PYTHONPATH=src python tests/support/make_librosa_reference.py
"""
import librosa, numpy as np, sys
sys.path.insert(0, "tests")
from support.babble import babble
from slmscale.units.melbank import mel_filterbank
out = {}
for n_fft, n_mels in [(512, 40), (1024, 40), (1024, 64), (512, 80)]:
    ref = librosa.filters.mel(sr=16000, n_fft=n_fft, n_mels=n_mels, fmin=20.0, fmax=7600.0).astype(np.float32)
    out[f"mel_{n_fft}_{n_mels}"] = ref
    mine = mel_filterbank(16000, n_fft, n_mels, 20.0, 7600.0)
    print(n_fft, n_mels, np.abs(mine - ref).max(), np.abs(ref).max())
wav = babble(1.3, seed=1)
for rate in (25, 50):
    hop = 16000 // rate; win = hop * 5 // 4; n_fft = 1 << (win - 1).bit_length()
    mel = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=n_fft, hop_length=hop, win_length=win,
                                         n_mels=40, fmin=20, fmax=7600, pad_mode="constant")
    out[f"mfcc_{rate}"] = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13).T.astype(np.float32)
np.savez_compressed("tests/support/librosa_reference.npz", **out)
