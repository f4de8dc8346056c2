"""The speech tokenizer bundle: encoder config + k-means centroids, saved without pickle.

TOKDIR layout:
  config.json             TokenizerConfig (encoder settings, k, frame rate, dedup default)
  centroids.safetensors   {"centroids": float32 (k, dim)}
  meta.json               kind "speech-tokenizer" (fit config, inputs, stats), written last
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from slmscale.artifacts import read_json, read_meta, write_json
from slmscale.config import StrictModel, added_field, validate
from slmscale.errors import UserError
from slmscale.units.dedup import dedup as dedup_units
from slmscale.units.encoders import Encoder, EncoderConfig, build_encoder
from slmscale.units.kmeans import Assigner
from slmscale.units.voice_norm import Transform, VoiceNorm

KIND = "speech-tokenizer"
# Encoder settings added after the first bundles were written, with the values those bundles
# were made with: a config.json lacking a key gets its old behaviour, never a newer default.
LEGACY_ENCODER = {"context": 0, "drop_c0": False, "whiten_static": None}
_CONTROLLER: list = []


def single_threaded_blas() -> Any:
    """numpy's BLAS limited to one thread: per-utterance matrices are small, and extra BLAS
    threads only spin (several times slower on a busy machine). torch is not affected."""
    from threadpoolctl import ThreadpoolController

    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")
CENTROIDS = "centroids.safetensors"


class TokenizerConfig(StrictModel):
    encoder: EncoderConfig
    k: int = Field(ge=2)
    dim: int = Field(ge=1)
    frame_rate: int = Field(gt=0)
    dedup: bool = True
    # PCA whitening applied to encoder features before assignment: `dim` = its output size,
    # `feature_dim` = the encoder's. None in bundles without one (and in older bundles).
    projection: int | None = Field(default=None, ge=1)
    feature_dim: int | None = Field(default=None, ge=1)
    # Per-voice whitening of the features before everything else (slmscale.units.voice_norm):
    # encoding then needs each utterance's voice, and that voice's audio for its statistics.
    voice_norm: VoiceNorm | None = added_field()
    # Runs of a unit shorter than this many frames join a neighbouring longer run before
    # deduplication (slmscale.units.smoothing); None: frame units as assigned.
    min_run: int | None = added_field(ge=2)


class SpeechTokenizer:
    """Waveform (16 kHz) → unit ids (+ frames per unit); ids 0..k-1, bos = k, eos = k + 1."""

    def __init__(self, config: TokenizerConfig, centroids: np.ndarray, path: Path | None = None,
                 device: str = "auto", projection: tuple[np.ndarray, np.ndarray] | None = None):
        centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        if centroids.shape != (config.k, config.dim):
            raise UserError(f"centroids have shape {centroids.shape}, config says ({config.k}, {config.dim})")
        if (projection is None) != (config.projection is None):
            raise UserError("config.json and the centroids file disagree on the projection; refit the tokenizer")
        if projection is not None:
            mean, matrix = (np.ascontiguousarray(a, dtype=np.float32) for a in projection)
            if matrix.shape != (config.feature_dim, config.dim) or mean.shape != (config.feature_dim,):
                raise UserError(f"projection has shape {matrix.shape} (mean {mean.shape}), config says "
                                f"({config.feature_dim}, {config.dim})")
            projection = (mean, matrix)
        self.projection = projection
        self.config = config
        self.centroids = centroids
        self.path = path
        self.device = device
        self.assign = Assigner(centroids)
        self._encoder: Encoder | None = None
        self.voices: dict[str, Transform] = {}      # voice -> whitening (voice_norm bundles)
        self.voice_problems: dict[str, str] = {}    # voice -> why it has none

    @property
    def k(self) -> int:
        return self.config.k

    @property
    def frame_rate(self) -> int:
        return self.config.frame_rate

    @property
    def dedup(self) -> bool:
        return self.config.dedup

    @property
    def vocab_size(self) -> int:
        return self.k + 2

    @property
    def special_tokens(self) -> dict[str, int]:
        return {"bos": self.k, "eos": self.k + 1}

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = build_encoder(self.config.encoder, device=self.device)
        return self._encoder

    @encoder.setter
    def encoder(self, encoder: Encoder) -> None:
        """Give the tokenizer what computes its features when the caller already has it (one layer
        of a forward pass shared with other tokenizers, units.layer_views); by default the
        tokenizer builds its own encoder on first use."""
        self._encoder = encoder

    def project(self, feats: np.ndarray) -> np.ndarray:
        """Encoder features -> the space the centroids live in (whitened when fitted so)."""
        if self.projection is None:
            return feats
        mean, matrix = self.projection
        if feats.shape[-1] != len(mean):
            raise UserError(f"features have dimension {feats.shape[-1]} but the projection expects "
                            f"{len(mean)}; the tokenizer does not match this encoder")
        return (np.asarray(feats, dtype=np.float32) - mean) @ matrix

    @property
    def per_voice(self) -> bool:
        """Whether encoding needs each utterance's voice (a voice-normalised tokenizer)."""
        return self.config.voice_norm is not None

    def adapt(self, items: list[Any], voices: set[str] | None = None, *, seconds: float | None = None,
              whole: bool = False) -> None:
        """Compute the voice statistics of `items`' voices (or of `voices` only) from their audio
        (manifest_jobs.Items); a no-op for a tokenizer without voice normalisation. Each voice uses
        the fitted `voice_norm.seconds` of its audio, or `seconds`, or with `whole` all of it."""
        if not self.per_voice:
            return
        from slmscale.units.voice_norm import voice_transforms

        todo = {it.voice for it in items} if voices is None else set(voices)
        todo -= set(self.voices) | set(self.voice_problems)
        if not todo:
            return
        norm = self.config.voice_norm
        if seconds is not None:
            norm = validate(VoiceNorm, {**norm.model_dump(), "seconds": seconds}, "voice statistics seconds")
        with single_threaded_blas():
            found, problems = voice_transforms(self.encoder, items, norm, todo, whole=whole)
        self.voices.update(found)
        self.voice_problems.update(problems)

    def voice_ready(self, voice: str) -> str | None:
        """None when utterances of `voice` can be encoded, else the reason they cannot."""
        if not self.per_voice or voice in self.voices:
            return None
        return self.voice_problems.get(voice, f"voice {voice!r}: no voice statistics; this tokenizer "
                                              "normalises features per voice (adapt it to the voice's audio first)")

    def normalize(self, feats: np.ndarray, voice: str | None) -> np.ndarray:
        """Voice-normalised features (unchanged without voice normalisation)."""
        if not self.per_voice:
            return feats
        reason = self.voice_ready(voice or "")
        if reason is not None:
            raise UserError(reason)
        from slmscale.units.voice_norm import apply

        return apply(feats, self.voices[voice or ""])

    def frame_units(self, feats: np.ndarray, voice: str | None = None) -> np.ndarray:
        """One unit per feature frame, as assigned (before smoothing and deduplication); a long
        file's blocks go through this one by one."""
        return self.assign(self.project(self.normalize(feats, voice)))

    def smooth(self, units: np.ndarray) -> np.ndarray:
        """A whole utterance's frame units with short runs absorbed (`min_run`; else unchanged)."""
        if self.config.min_run is None:
            return units
        from slmscale.units.smoothing import absorb_short_runs

        return absorb_short_runs(units, self.config.min_run, self.centroids)

    def units_from_frames(self, units: np.ndarray, dedup: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A whole utterance's frame units -> (units, frames per unit): smoothed, then deduplicated
        (unless `dedup` is False, or None and the tokenizer's default keeps repeats)."""
        units = self.smooth(units)
        if self.dedup if dedup is None else dedup:
            return dedup_units(units)
        return units, np.ones(len(units), dtype=np.int64)

    def units_from_features(self, feats: np.ndarray, dedup: bool | None = None,
                            voice: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.units_from_frames(self.frame_units(feats, voice), dedup)

    def encode(self, wav: np.ndarray, dedup: bool | None = None, voice: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        with single_threaded_blas():
            return self.units_from_features(self.encoder.features(wav), dedup, voice)

    def encode_batch(self, wavs: list[np.ndarray], dedup: bool | None = None,
                     voices: list[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        voices = voices if voices is not None else [None] * len(wavs)  # type: ignore[list-item]
        with single_threaded_blas():
            return [self.units_from_features(f, dedup, v)
                    for f, v in zip(self.encoder.features_batch(wavs), voices)]

    def encode_file(self, path: str | Path, dedup: bool | None = None, voice: str | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Units of an audio file (any rate/format; long files streamed); AudioError if it is bad."""
        from slmscale.units.manifest_jobs import Item, features_for_items

        outcome = features_for_items(self.encoder, [Item(0, str(path), str(path), 0.0)])[0]
        if outcome.reason is not None:
            from slmscale.audio.io import AudioError

            raise AudioError(outcome.reason, path)
        with single_threaded_blas():
            return self.units_from_features(outcome.value, dedup, voice)

    def save(self, out_dir: str | Path) -> None:
        """Write config and centroids (the caller writes meta.json last)."""
        from safetensors.numpy import save

        from slmscale.artifacts import atomic_write_bytes

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {"centroids": self.centroids}
        if self.projection is not None:
            tensors.update(projection_mean=self.projection[0], projection_matrix=self.projection[1])
        atomic_write_bytes(out / CENTROIDS, save(tensors))
        write_json(out / "config.json", self.config.model_dump(mode="json"))

    @classmethod
    def load(cls, tok_dir: str | Path, device: str = "auto") -> "SpeechTokenizer":
        from safetensors.numpy import load_file

        path = Path(tok_dir).resolve()
        read_meta(path, KIND)
        raw = read_json(path / "config.json")
        if isinstance(raw, dict) and isinstance(raw.get("encoder"), dict):
            raw["encoder"] = {**LEGACY_ENCODER, **raw["encoder"]}
        config = validate(TokenizerConfig, raw, str(path / "config.json"))
        config = _relocate_phonenet(config, path)
        if not (path / CENTROIDS).is_file():
            raise UserError(f"{path}: {CENTROIDS} missing; refit the tokenizer with `slmscale units fit`")
        try:
            tensors = load_file(str(path / CENTROIDS))
            centroids = tensors["centroids"]
        except Exception as err:  # safetensors raises its own error types for damaged files
            raise UserError(f"{path / CENTROIDS}: cannot read centroids ({err})") from None
        projection = None
        if config.projection is not None:
            if "projection_mean" not in tensors or "projection_matrix" not in tensors:
                raise UserError(f"{path / CENTROIDS}: projection tensors missing; refit the tokenizer")
            projection = (tensors["projection_mean"], tensors["projection_matrix"])
        return cls(config, centroids, path=path, device=device, projection=projection)

    def fingerprint(self) -> str:
        if self.path is None:
            raise ValueError("tokenizer has not been saved")
        return str(read_meta(self.path, KIND)["fingerprint"])

    def shard_info(self) -> dict:
        """The `tokenizer` entry of shards meta (see CONTRACTS.md)."""
        return {"kind": "units", "path": str(self.path), "k": self.k, "dedup": self.dedup,
                "frame_rate": self.frame_rate, "fingerprint": self.fingerprint(),
                "encoder": self.config.encoder.name}


def _relocate_phonenet(config: TokenizerConfig, path: Path) -> TokenizerConfig:
    """A phone bundle whose classifier was trained inside it (TOKDIR/phonenet) still loads after
    TOKDIR is moved or copied to another machine: the stored absolute path is replaced by the
    bundle's own copy when that copy has the recorded hash."""
    enc = config.encoder
    local = path / "phonenet"
    if enc.name != "phone" or Path(enc.checkpoint or "").is_dir() or not local.is_dir():
        return config
    from slmscale.units.encoders import checkpoint_sha256

    if enc.checkpoint_sha256 and checkpoint_sha256(local) != enc.checkpoint_sha256:
        raise UserError(f"{local}: this phone classifier differs from the one the tokenizer was fitted "
                        f"with ({enc.checkpoint} is gone); refit with `slmscale units fit --encoder phone`")
    return config.model_copy(update={"encoder": enc.model_copy(update={"checkpoint": str(local)})})


PICKLE_SUFFIXES = (".bin", ".pkl", ".pickle", ".joblib", ".pt", ".km")


def import_kmeans(path: str | Path, allow_pickle: bool = False) -> np.ndarray:
    """Centroids from an external k-means file; pickles (scikit-learn/joblib) only when allowed.

    Safe formats: `.safetensors` (tensor "centroids" or the only tensor) and `.npy`.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: k-means file not found")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        tensors = load_file(str(path))
        arr = tensors.get("centroids", next(iter(tensors.values())) if len(tensors) == 1 else None)
        if arr is None:
            raise UserError(f"{path}: expected a tensor named 'centroids'")
    elif path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError:
            raise UserError(f"{path}: .npy holds Python objects; save a plain float array") from None
    else:
        if not allow_pickle:
            raise UserError(f"{path}: this is a pickle (scikit-learn/joblib k-means); loading it can run "
                            "code. Pass --allow-pickle only if you trust its source (it is converted "
                            "to safetensors)")
        import joblib

        try:
            obj = joblib.load(path)
        except Exception as err:  # any unpickling failure is a bad file for the user
            raise UserError(f"{path}: cannot unpickle ({type(err).__name__}: {err})") from None
        arr = getattr(obj, "cluster_centers_", obj)
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[0] < 2 or not np.issubdtype(arr.dtype, np.number):
        raise UserError(f"{path}: expected a (k, dim) array of centroids, found shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise UserError(f"{path}: centroids contain NaN/inf")
    return np.ascontiguousarray(arr, dtype=np.float32)
