"""`units fit`: features of the manifest's training audio → sampled frames → k-means → TOKDIR.

With an imported k-means file no frames are needed: its centroids are checked against the encoder
(dimension) and saved as safetensors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import Field

from slmscale.artifacts import META, fingerprint, is_fresh, read_meta, sha256_file, write_meta
from slmscale.config import StrictModel, added_field
from slmscale.data.manifest import read_manifest
from slmscale.errors import UserError
from slmscale.progress import info
from slmscale.units.bundle import KIND, SpeechTokenizer, TokenizerConfig, import_kmeans
from slmscale.units.manifest_jobs import (Item, Outcome, default_workers, features_for_items, manifest_inputs,
                                   manifest_items, run_items)
from slmscale.units.encoders import EncoderConfig, build_encoder, checkpoint_sha256
from slmscale.units.kmeans import Assigner, cap_frames, fit_kmeans, fit_whitening, sample_frames
from slmscale.units.voice_norm import VoiceNorm

# Sample a little more than needed per utterance, then cap exactly: manifest durations are estimates.
OVERSAMPLE = 1.25


class FitConfig(StrictModel):
    manifest: str
    encoder: EncoderConfig
    k: int = Field(ge=2, le=65534)
    max_frames: int = Field(default=200_000, ge=100)
    seed: int = 0
    max_iter: int = Field(default=100, ge=1)
    dedup: bool = True
    # PCA-whiten the sampled frames to this many dimensions before k-means (None: raw features).
    projection: int | None = Field(default=None, ge=1)
    # Whiten each voice's features with its own statistics first (slmscale.units.voice_norm).
    voice_norm: VoiceNorm | None = added_field()
    # Absorb runs shorter than this many frames when encoding (slmscale.units.smoothing).
    min_run: int | None = added_field(ge=2)
    import_kmeans: str | None = None
    import_sha256: str | None = None


@dataclass(frozen=True)
class Taker:
    """One fit's share of the features of a file: its columns (a multi-layer encoder gives several
    layers side by side), its sampling seed, and its voices' transforms and refusals (voice_statistics)."""

    columns: tuple[int, int] | None = None  # [start, stop) of the feature columns; None: all
    seed: int = 0
    voices: tuple[dict, dict] | None = None

    def refusal(self, voice: str) -> str | None:
        if self.voices is None or voice in self.voices[0]:
            return None
        return self.voices[1][voice]  # voice_transforms gave each voice of the slice one or the other

    def take(self, feats: np.ndarray, keep: float, key: str, voice: str) -> np.ndarray | str:
        """This fit's frames of one file (subsampled with a per-utterance seed, voice-normalised
        when asked), or the reason it has none."""
        from slmscale.units.voice_norm import apply

        refused = self.refusal(voice)
        if refused is not None:
            return refused
        mine = feats if self.columns is None else feats[:, self.columns[0]:self.columns[1]]
        frames = np.ascontiguousarray(sample_frames(mine, keep, self.seed, key))
        return frames if self.voices is None else apply(frames, self.voices[0][voice])


class _SampleJob:
    """Worker job: features of each file, and each taker's frames of them (outcome value: one entry
    per taker). A file every taker refuses is not read."""

    def __init__(self, encoder_cfg: dict, keep: float, takers: list[Taker], encoder: Any = None):
        self.encoder = encoder or build_encoder(EncoderConfig.model_validate(encoder_cfg))
        self.keep, self.takers = keep, takers

    def __call__(self, items: list[Item]) -> list[Outcome]:
        def refuse(it: Item) -> str | None:
            reasons = [t.refusal(it.voice) for t in self.takers]
            return reasons[0] if all(r is not None for r in reasons) else None

        outcomes = features_for_items(self.encoder, items, refuse=refuse)
        for o in outcomes:
            if o.value is not None:
                o.extra["frames"] = len(o.value)
                o.value = [t.take(o.value, self.keep, o.item.key, o.item.voice) for t in self.takers]
        return outcomes


def make_fit_config(manifest: str | Path, encoder: EncoderConfig, k: int, max_frames: int = 200_000,
                    seed: int = 0, import_path: str | Path | None = None, max_iter: int = 100) -> FitConfig:
    if encoder.name in ("hubert", "phone"):
        from slmscale.hf_cache import resolve_model_dir  # a folder, or (hubert) a cached model id

        ckpt = resolve_model_dir(encoder.checkpoint or "")
        encoder = encoder.model_copy(update={"checkpoint": str(ckpt), "checkpoint_sha256": checkpoint_sha256(ckpt)})
    imp = None if import_path is None else Path(import_path).resolve()
    if imp is not None and not imp.is_file():
        raise UserError(f"--import-kmeans {import_path}: file not found")
    return FitConfig(manifest=str(Path(manifest).resolve()), encoder=encoder, k=k, max_frames=max_frames,
                     seed=seed, max_iter=max_iter, import_kmeans=None if imp is None else str(imp),
                     import_sha256=None if imp is None else sha256_file(imp))


def fit_tokenizer(cfg: FitConfig, out: str | Path, allow_pickle: bool = False,
                  workers: int | None = None, force: bool = False,
                  sample: Callable[[], Sample] | None = None) -> dict[str, Any]:
    """Build (or reuse, when fresh) the tokenizer bundle in `out`; returns its meta. `sample`
    gives the sampled frames instead of reading the audio here (a merge of sharded parts)."""
    out = Path(out)
    entries = read_manifest(cfg.manifest)
    inputs = manifest_inputs(cfg.manifest, entries)
    if not force and is_fitted(cfg, out, entries):
        info(f"{out}: tokenizer is up to date (same manifest, audio and config); skipped")
        return read_meta(out, KIND)
    (out / META).unlink(missing_ok=True)  # a crash from here on leaves no "finished" marker

    encoder = build_encoder(cfg.encoder)
    enc_cfg = cfg.encoder.model_copy(update={"frame_rate": encoder.frame_rate})
    stats: dict[str, Any] = {"encoder": cfg.encoder.name, "frame_rate": encoder.frame_rate, "dim": encoder.dim}
    projection = None
    if cfg.import_kmeans is not None:
        if cfg.projection is not None:
            raise UserError("--import-kmeans takes centroids as they are; it cannot be combined with a projection")
        centroids = import_kmeans(cfg.import_kmeans, allow_pickle=allow_pickle)
        if centroids.shape[1] != encoder.dim:
            raise UserError(f"{cfg.import_kmeans}: centroids have dimension {centroids.shape[1]} but the "
                            f"{cfg.encoder.name} encoder gives {encoder.dim}; check --layer/--checkpoint")
        if centroids.shape[0] != cfg.k:
            raise UserError(f"{cfg.import_kmeans}: holds {centroids.shape[0]} centroids but --k is {cfg.k}")
        stats.update(source="import")
    else:
        centroids, projection, fit_stats = _fit_from_audio(cfg, entries, encoder, workers,
                                                           None if sample is None else sample())
        stats.update(source="fit", **fit_stats)
    tok_cfg = TokenizerConfig(encoder=enc_cfg, k=cfg.k, dim=centroids.shape[1], frame_rate=encoder.frame_rate,
                              dedup=cfg.dedup, projection=cfg.projection,
                              feature_dim=None if projection is None else encoder.dim, voice_norm=cfg.voice_norm,
                              min_run=cfg.min_run)
    SpeechTokenizer(tok_cfg, centroids, projection=projection).save(out)
    meta = write_meta(out, KIND, cfg, inputs, k=cfg.k, **stats)
    info(f"{out}: speech tokenizer with k={cfg.k} ({cfg.encoder.name}, {encoder.frame_rate} Hz, "
         f"dim {encoder.dim}, {stats['source']})")
    return meta


def is_fitted(cfg: FitConfig, out: str | Path, entries: list | None = None) -> bool:
    """Whether `out` holds the tokenizer `cfg` fits from the manifest's current audio."""
    entries = read_manifest(cfg.manifest) if entries is None else entries
    return is_fresh(Path(out), fingerprint(KIND, cfg.model_dump(mode="json"), manifest_inputs(cfg.manifest, entries)))


@dataclass
class Sample:
    """Frames sampled per usable utterance (in manifest order), and what was skipped."""

    frames: list[np.ndarray] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    frame_counts: list[int] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add(self, o: Outcome, frames: np.ndarray | str | None) -> None:
        """An utterance's sampled frames, or its skip: `frames` is then a reason, or None for the outcome's."""
        reason = frames if isinstance(frames, str) else o.reason
        if reason is not None:
            self.skipped.append({"id": o.item.key, "audio": o.item.path, "reason": reason})
            return
        self.frames.append(frames)
        self.seconds.append(o.seconds)
        self.frame_counts.append(o.extra["frames"])


def train_entries(entries: list) -> list:
    return [e for e in entries if e.split == "train"] or entries


def sample_items(cfg: FitConfig, entries: list, encoder: Any, workers: int | None, start: int = 0,
                 end: int | None = None) -> Sample:
    """Features of train entries start..end-1, subsampled per utterance (seeded by its id), so
    any split of the entries into slices samples the same frames."""
    items = manifest_items(cfg.manifest, train_entries(entries))[start:end]
    keep = sampling_rate(cfg, entries, encoder.frame_rate)
    if workers is None:
        workers = 1 if cfg.encoder.name == "hubert" else default_workers(sum(it.seconds for it in items))
    voices = voice_statistics(cfg, entries, items, encoder)
    # In-process, reuse the encoder already built (a HuBERT model is costly to load twice).
    factory = functools.partial(_SampleJob, cfg.encoder.model_dump(mode="json"), keep,
                                [Taker(seed=cfg.seed, voices=voices)], None if workers > 1 else encoder)
    out = Sample()
    for o in run_items(items, factory, workers, f"features ({cfg.encoder.name})"):
        out.add(o, None if o.value is None else o.value[0])
    return out


def sampling_rate(cfg: FitConfig, entries: list, frame_rate: float) -> float:
    """The share of each utterance's frames to keep: a little over max_frames in all."""
    est_frames = sum(e.duration for e in train_entries(entries)) * frame_rate
    return min(1.0, OVERSAMPLE * cfg.max_frames / max(est_frames, 1.0))


def voice_statistics(cfg: FitConfig, entries: list, items: list[Item], encoder: Any) -> tuple[dict, dict] | None:
    """With voice normalisation, the whitening transforms of the voices of `items` and the reasons
    for those that have none (voice_norm.voice_transforms); else None."""
    if cfg.voice_norm is None:
        return None
    from slmscale.units.voice_norm import voice_transforms

    # Statistics from all of a voice's audio in the manifest (as `units encode` computes them).
    return voice_transforms(encoder, manifest_items(cfg.manifest, entries), cfg.voice_norm, {it.voice for it in items})


def _fit_from_audio(cfg: FitConfig, entries: list, encoder: Any, workers: int | None,
                    sample: Sample | None = None) -> tuple[np.ndarray, tuple | None, dict]:
    if sample is None:
        sample = sample_items(cfg, entries, encoder, workers)
    sampled, skipped = sample.frames, sample.skipped
    seconds, frames = 0.0, 0
    for sec, n in zip(sample.seconds, sample.frame_counts):  # summed in manifest order
        seconds += sec
        frames += n
    if not sampled:
        first = skipped[0]["reason"] if skipped else "no entries"
        raise UserError(f"{cfg.manifest}: no usable audio to fit on ({len(skipped)} bad; first: {first})")
    for s in skipped:
        info(f"skipped {s['id']} ({s['audio']}): {s['reason']}")
    pool = cap_frames(np.concatenate(sampled), cfg.max_frames, cfg.seed)
    projection = None
    if cfg.projection is not None:
        projection = fit_whitening(pool, cfg.projection)
        pool = (pool - projection[0]) @ projection[1]
    info(f"k-means: k={cfg.k} on {len(pool):,} of {frames:,} frames ({seconds / 3600:.2f} h of audio)")
    centroids, km = fit_kmeans(pool, cfg.k, cfg.seed, cfg.max_iter)
    sample_usage = np.unique(Assigner(centroids)(pool)).size
    return centroids, projection, {"utterances": len(sampled), "audio_hours": seconds / 3600, "frames_total": frames,
                       "frames_sampled": int(len(pool)), "kmeans": km,
                       "units_used_on_sample": int(sample_usage), "skipped": skipped,
                       "n_skipped": len(skipped)}
