"""Data for `units pretrain`: the training audio in memory, cluster targets, deterministic batches.

A batch is a pure function of (seed, iteration, step): crops, speed factors, perturbations and
masks all come from generators seeded by those numbers (and the row), so a resumed run sees the
same batches as an uninterrupted one and needs no data state in its checkpoints.

Targets are per-frame cluster ids of the *clean* audio. A crop played at speed f (and re-voiced)
keeps the targets of the original frames its samples came from: crop frame i, whose receptive
field is centred on crop sample 320 i + R/2, maps to the original sample s + f (320 i + R/2) and
so to the target frame whose centre is nearest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.audio.perturb import augment, draw_speed, speed
from slmscale.data.manifest import ManifestEntry, read_manifest
from slmscale.errors import UserError
from slmscale.progress import info, track
from slmscale.units.cross_voice import CrossVoice, consensus_features, label_agreement
from slmscale.units.encoders import Encoder, EncoderConfig, build_encoder
from slmscale.units.kmeans import Assigner, cap_frames, fit_kmeans
from slmscale.units.manifest_jobs import bad_reason, load_wav, manifest_items
from slmscale.units.masking import span_mask
from slmscale.units.pretrain_config import PretrainConfig
from slmscale.units.voice_norm import VoiceNorm

HOP = 320  # samples per 50 Hz frame


@dataclass
class Corpus:
    ids: list[str]
    voices: list[str]
    wavs: list[np.ndarray]  # zero-mean, unit-variance per utterance (the model's input convention)
    skipped: list[dict] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # the manifest `group` ("" = none)

    @property
    def seconds(self) -> float:
        return sum(len(w) for w in self.wavs) / 16000


def _order_key(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:pretrain:{key}".encode()).digest()


def load_corpus(manifest: str | Path, max_hours: float, seed: int, split: str = "train") -> Corpus:
    """Up to `max_hours` of the manifest's `split` audio (a seeded subset, kept in manifest order;
    readings of one text, a manifest `group`, are taken or left together)."""
    entries = [e for e in read_manifest(manifest) if e.split == split]
    if split == "train" and not entries:
        raise UserError(f"{manifest}: no entries with split 'train' to pretrain on")
    chosen, total, last = [], 0.0, None
    for e in sorted(entries, key=lambda e: (_order_key(seed, e.group or e.id), e.id)):
        key = e.group or e.id
        if total >= max_hours * 3600 and key != last:  # full, but a group is finished first
            break
        chosen.append(e)
        total += e.duration
        last = key
    keep = {e.id for e in chosen}
    corpus = Corpus([], [], [])
    for item, e in zip(manifest_items(manifest, entries), entries):
        if e.id not in keep:
            continue
        try:
            wav = load_wav(item.path, HOP * 4)
        except Exception as err:  # a bad file is skipped with its reason, never fatal
            corpus.skipped.append({"id": e.id, "audio": item.path, "reason": bad_reason(err)})
            continue
        corpus.ids.append(e.id)
        corpus.voices.append(e.voice)
        corpus.groups.append(e.group)
        corpus.wavs.append(((wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)).astype(np.float32))
    for s in corpus.skipped:
        info(f"skipped {s['id']} ({s['audio']}): {s['reason']}")
    if split == "train" and not corpus.wavs:
        raise UserError(f"{manifest}: no usable training audio ({len(corpus.skipped)} files skipped)")
    return corpus


def check_cross_voice(entries: list[ManifestEntry], manifest: str | Path) -> None:
    """`--cross-voice` needs two training readings of one text (the seeded subset of `max_hours`
    takes a text's readings together, so they stay together there)."""
    counts: dict[str, int] = {}
    for e in entries:
        if e.group and e.split == "train":
            counts[e.group] = counts.get(e.group, 0) + 1
    if not any(n >= 2 for n in counts.values()):
        raise UserError(f"{manifest}: --cross-voice needs texts read by two voices or more (entries sharing a "
                        "`group`), and the training audio has none; `synth corpus --voices-per-story 2` makes "
                        "such a corpus")


def target_encoder(iteration: int, previous: Path | None, layer: int) -> Encoder:
    """MFCC (the built-in recipe) for iteration 1, else layer `layer` of the previous model."""
    if iteration == 1 or previous is None:
        return build_encoder(EncoderConfig(name="mfcc"))
    return build_encoder(EncoderConfig(name="hubert", checkpoint=str(previous), layer=layer), device="cpu")


def cluster_targets(encoder: Encoder, corpus: Corpus, k: int, seed: int, max_frames: int,
                    voice_norm: VoiceNorm | None = None, cross_voice: CrossVoice | None = None
                    ) -> tuple[list[np.ndarray], np.ndarray, dict[str, Any]]:
    """k-means of the encoder's frames over the corpus; (labels per utterance, centroids, stats).
    With `voice_norm`, each voice's frames are first whitened with that voice's statistics; with
    `cross_voice`, readings of one text are replaced by their aligned consensus."""
    feats = [encoder.features(w) for w in track(corpus.wavs, "target features", unit="utt")]
    stats: dict[str, Any] = {}
    if voice_norm is not None:
        feats, stats["voice_norm"] = _normalise_voices(feats, corpus.voices, voice_norm, encoder.frame_rate, seed)
    paths: list = []
    if cross_voice is not None:
        feats, paths, stats["cross_voice"] = consensus_features(
            feats, corpus.groups, int(cross_voice.max_seconds * encoder.frame_rate))
    pool = cap_frames(np.concatenate(feats), max_frames, seed)
    centroids, km = fit_kmeans(pool, k, seed)
    assign = Assigner(centroids)
    labels = [assign(f).astype(np.int32) for f in feats]
    if cross_voice is not None:
        agreement = label_agreement(labels, paths)  # None when every reading was too long to align
        stats["cross_voice"]["label_agreement"] = None if agreement is None else round(agreement, 4)
    used = int(np.unique(np.concatenate(labels)).size)
    return labels, centroids, {"frames": int(sum(len(f) for f in feats)), "kmeans": km, "units_used": used, **stats}


def _normalise_voices(feats: list[np.ndarray], voices: list[str], norm: VoiceNorm, rate: int,
                      seed: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Per-voice whitening of the target features (all audio is in memory: a seeded subset of up
    to `norm.seconds` of frames gives each voice's statistics). Voices with less than
    `norm.min_seconds` share statistics pooled over all such voices."""
    from slmscale.units.voice_norm import apply, whitening

    groups: dict[str, list[int]] = {}
    for i, v in enumerate(voices):
        groups.setdefault(v, []).append(i)
    need, budget = norm.min_seconds * rate, int(norm.seconds * rate)
    small = sorted(v for v, idx in groups.items() if sum(len(feats[i]) for i in idx) < need)
    plan = {v: [v] for v in groups if v not in small}
    if small:
        plan["(pooled)"] = small
    out = list(feats)
    for name, members in sorted(plan.items()):
        idx = [i for v in members for i in groups[v]]
        frames = cap_frames(np.concatenate([feats[i] for i in idx]), budget, seed)
        transform = whitening(frames, norm.shrink)
        for i in idx:
            out[i] = apply(feats[i], transform)
    return out, {"voices": len(groups), "pooled_voices": small}


class Batches:
    """Deterministic training batches: crops of `crop` samples with targets, masks and views."""

    def __init__(self, corpus: Corpus, labels: list[np.ndarray], label_centre0: float, cfg: PretrainConfig,
                 iteration: int, receptive: int, frames_of: Any):
        self.corpus, self.labels, self.cfg, self.iteration = corpus, labels, cfg, iteration
        self.crop = int(round(cfg.crop_seconds * 16000))
        self.max_speed = 1 + (cfg.perturb.speed if cfg.perturb is not None else 0.0)
        need = int(np.ceil(self.crop * self.max_speed))
        lengths = np.array([len(w) for w in corpus.wavs])
        self.pool = np.flatnonzero(lengths >= need)
        if len(self.pool) == 0:  # every utterance is short: crop what the shortest allows
            self.crop = int(lengths.min() / self.max_speed) // HOP * HOP
            self.pool = np.arange(len(lengths))
            if self.crop < HOP * 4:
                raise UserError(f"utterances are too short to pretrain on (longest {lengths.max() / 16000:.2f} s)")
        weights = lengths[self.pool].astype(np.float64)
        self.weights = weights / weights.sum()
        self.frames = int(frames_of(self.crop))
        self.centre = receptive / 2.0
        self.label_centre0 = label_centre0

    def _row(self, step: int, row: int, perturb: bool, view: bool) -> tuple:
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, self.iteration, step + 1, row])
        utt = int(rng.choice(self.pool, p=self.weights))
        factor = draw_speed(cfg.perturb, rng) if perturb and cfg.perturb is not None else 1.0
        span = int(np.ceil(self.crop * factor))
        wav = self.corpus.wavs[utt]
        start = int(rng.integers(0, (len(wav) - span) // HOP + 1)) * HOP
        x = wav[start:start + span]
        if factor != 1.0:
            x = speed(x, factor)
        x = np.pad(x, (0, max(0, self.crop - len(x))))[: self.crop].astype(np.float32)
        mask = span_mask(1, self.frames, cfg.mask_prob, cfg.mask_length, rng)[0]
        clean = x
        if perturb and cfg.perturb is not None:
            x = augment(x, cfg.perturb, rng)
        other = augment(clean, cfg.perturb, rng, pitch=True, force=True) if view and cfg.perturb else None
        if view and other is None:
            other = clean
        centres = start + factor * (HOP * np.arange(self.frames) + self.centre)
        idx = np.rint((centres - self.label_centre0) / HOP).astype(np.int64)
        lab = self.labels[utt]
        targets = lab[np.clip(idx, 0, len(lab) - 1)].astype(np.int64)
        return x, targets, mask, other

    def batch(self, step: int, rows: range, perturb: bool = True, view: bool = False) -> dict[str, np.ndarray]:
        """The rows `rows` of the global batch of `step` (a rank takes rows rank::world)."""
        parts = [self._row(step, r, perturb, view) for r in rows]
        out = {"x": np.stack([p[0] for p in parts]), "targets": np.stack([p[1] for p in parts]),
               "mask": np.stack([p[2] for p in parts])}
        if view:
            out["view"] = np.stack([p[3] for p in parts])
        return out


class StepBatches:
    """Map-style dataset over steps: item i is the global batch of step `start + i` (the rows of
    this rank), so a torch DataLoader's workers can build batches ahead of the training step.
    Each batch is a pure function of the step, hence the same with or without workers."""

    def __init__(self, batches: Batches, start: int, steps: int, rows: range, view: bool):
        self.batches, self.start, self.steps, self.rows, self.view = batches, start, steps, rows, view

    def __len__(self) -> int:
        return self.steps - self.start

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return self.batches.batch(self.start + i, self.rows, view=self.view)
