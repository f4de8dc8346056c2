"""Several layers of one HuBERT-family checkpoint from one model and one forward pass, each seen as
an encoder of its own.

`units layers` measures a tokenizer per layer, and `units quality` may be given several tokenizers
of one checkpoint. Each would otherwise build its own copy of the checkpoint, truncated at its
layer (all twelve layers of HuBERT-base: about 2.7 GB of weights at once), and run its own
forward pass over every measured file and every voice's statistics audio.
Here one model runs and captures all the layers (encoders.HubertEncoder with `layers`), and each
tokenizer gets a `LayerView`: an Encoder that gives its layer's columns of that pass, exactly as a
one-layer encoder gives them. The pass's features of the most recent audio are kept, up to
CACHE_BYTES and keyed by the audio's digest, so views that ask for the same audio one after
another (the measures of one file; the voice statistics of one voice) share one pass. The cache
only saves work: audio it no longer holds is passed again, with the same result.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, defaultdict

import numpy as np

from slmscale.units.encoder_base import Encoder, EncoderConfig

# Features of recent audio kept for the other views (HuBERT-base, 12 layers: about 330 MB per
# 180 s of audio, one voice's default statistics budget).
CACHE_BYTES = 1 << 30


def _digest(wav: np.ndarray) -> tuple[int, str]:
    a = np.ascontiguousarray(wav, dtype=np.float32)
    return len(a), hashlib.blake2b(a.tobytes(), digest_size=16).hexdigest()


class SharedPass:
    """One model for `layers` of the checkpoint in `cfg` (its `layer` is ignored); `view(layer)`
    gives one layer's encoder."""

    def __init__(self, cfg: EncoderConfig, layers: tuple[int, ...], device: str = "auto",
                 cache_bytes: int = CACHE_BYTES):
        from slmscale.units.encoders import HubertEncoder

        self.wide = HubertEncoder(cfg, device=device, layers=tuple(layers))
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._held = 0
        self.passes = 0  # audio the model actually ran on (what the cache saved shows against the calls)

    def view(self, layer: int) -> "LayerView":
        return LayerView(self, layer)

    def features_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        """All the layers' features of each wav, from the cache where it holds them."""
        keys = [_digest(w) for w in wavs]
        missing: dict[tuple[int, str], int] = {}  # each audio not held, once, at its first position
        for i, k in enumerate(keys):
            if k not in self._cache and k not in missing:
                missing[k] = i
        got = dict(zip(missing, self.wide.features_batch([wavs[i] for i in missing.values()]))) if missing else {}
        self.passes += len(missing)
        out = []
        for k in keys:
            f = got.get(k)
            if f is None:
                f = self._cache[k]
                self._cache.move_to_end(k)
            out.append(f)
        for k, f in got.items():
            self._keep(k, f)
        return out

    def _keep(self, key: tuple[int, str], feats: np.ndarray) -> None:
        if feats.nbytes > self.cache_bytes:
            return
        self._cache[key] = feats
        self._held += feats.nbytes
        while self._held > self.cache_bytes:
            _, old = self._cache.popitem(last=False)
            self._held -= old.nbytes


class LayerView(Encoder):
    """One layer's hidden states from a SharedPass: what HubertEncoder(cfg with this layer) gives."""

    def __init__(self, shared: SharedPass, layer: int):
        self.shared, self.layer = shared, layer
        self.columns = shared.wide.columns(layer)
        self.dim = self.columns[1] - self.columns[0]
        self.frame_rate = shared.wide.frame_rate

    def min_samples(self) -> int:
        return self.shared.wide.min_samples()

    def features(self, wav: np.ndarray) -> np.ndarray:
        return self.features_batch([wav])[0]

    def features_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        start, stop = self.columns
        return [np.ascontiguousarray(f[:, start:stop]) for f in self.shared.features_batch(wavs)]


def shared_views(configs: list[EncoderConfig]) -> list[LayerView | None]:
    """For tokenizers' encoder configs: a view of one shared pass for each HuBERT-family encoder
    whose weights (by hash) and precision another one shares; None for the others."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, c in enumerate(configs):
        if c.name == "hubert" and c.checkpoint_sha256:
            groups[c.checkpoint_sha256, c.bf16].append(i)
    views: list[LayerView | None] = [None] * len(configs)
    for idx in groups.values():
        if len(idx) > 1:
            shared = SharedPass(configs[idx[0]], tuple(sorted({int(configs[i].layer or 0) for i in idx})))
            for i in idx:
                views[i] = shared.view(int(configs[i].layer or 0))
    return views
