"""A small frame-level phone classifier, trained on the phone alignments of a synthesised corpus.

Why: k-means on MFCC frames clusters voices as much as sounds, so the same word said by two
voices (or twice by one) gives different unit strings and a speech LM cannot learn words from
them. Self-supervised encoders (HuBERT) fix this by pre-training on thousands of hours, which
we cannot download or train here. espeak-ng, however, reports every phoneme it speaks, so a
synthetic corpus comes with exact frame labels: a classifier trained on them maps frames of any
voice to a phone posterior, and k-means on posteriors gives phone-like, largely voice-independent
units. It is a supervised stand-in for a pre-trained HuBERT (like the "supervised topline" of the
ZeroSpeech challenge): use it for the built-in synthetic setting, a real HuBERT for real speech.

Model: per-utterance MFCC features (the default recipe without context stacking, 39 dims) →
`layers` 1-D convolutions (kernel 5, GELU: 13 frames = 260 ms of context with 3 layers) → a
linear map to phone logits. Frames outside every phone are silence ("_"). Stress marks are
dropped from espeak's mnemonics ("'aI" and ",aI" are one class).

`PhoneEncoder` (built by units.encoders.build_encoder for `--encoder phone`) runs a trained
classifier as a feature encoder: its phone posteriors per frame.

NETDIR layout (a "checkpoint" for `units fit --encoder phone --checkpoint NETDIR`):
  config.json          PhoneNetConfig + phone inventory + feature settings
  model.safetensors    the weights
  meta.json            kind "phonenet" (training config, manifest fingerprint, accuracy), last
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from pydantic import Field

from slmscale.artifacts import META, fingerprint, is_fresh, read_json, read_meta, write_json, write_meta
from slmscale.config import StrictModel, validate
from slmscale.errors import UserError
from slmscale.progress import info, make_progress
from slmscale.units.encoder_base import Encoder, EncoderConfig
from slmscale.units.spectral import SpectralEncoder
from torch.nn import Module  # imported lazily by units.encoders, only for the phone encoder

KIND = "phonenet"
WEIGHTS = "model.safetensors"
SILENCE = "_"
CHUNK = 200  # frames per training window (4 s at 50 Hz)


class PhoneNetConfig(StrictModel):
    hidden: int = Field(default=192, ge=8)
    layers: int = Field(default=3, ge=1, le=8)
    kernel: int = Field(default=5, ge=1, le=15)
    steps: int = Field(default=500, ge=1)
    batch: int = Field(default=32, ge=1, description="windows of 200 frames per step")
    lr: float = Field(default=2e-3, gt=0)
    max_windows: int = Field(default=4000, ge=1, description="seeded cap on training windows")
    seed: int = 0


class PhoneNetInfo(StrictModel):
    """config.json of NETDIR."""

    net: PhoneNetConfig
    phones: list[str]
    feature_dim: int
    frame_rate: int


def normalize_phone(name: str) -> str:
    return name.lstrip("',") or SILENCE


def feature_config() -> Any:
    """The input features: 13 MFCC + deltas + delta-deltas, no per-utterance normalisation.

    Per-utterance CMVN/whitening makes a half-second word alone in silence look unlike the same
    word inside a 20 s story (the statistics are dominated by silence), so the classifier instead
    standardises with fixed statistics of its training frames (the first layer) and learns voice
    invariance from the several training voices. The convolutions supply the context.
    """
    return EncoderConfig(name="mfcc", context=0, cmvn=False, whiten_static=None)


class Standardize(Module):
    """(x - mean) / std with the training frames' statistics, saved with the weights."""

    def __init__(self, dim: int):
        import torch

        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, 1))
        self.register_buffer("std", torch.ones(dim, 1))

    def forward(self, x: Any) -> Any:
        return (x - self.mean) / self.std


def frame_labels(phones: list, n_frames: int, frame_rate: int, index: dict[str, int]) -> np.ndarray:
    """Class id per frame: the phone covering the frame centre (frame i at i / frame_rate s)."""
    labels = np.full(n_frames, index[SILENCE], np.int64)
    for name, start, end in phones:
        a, b = int(round(start * frame_rate)), int(round(end * frame_rate))
        labels[max(a, 0):min(b, n_frames)] = index.get(normalize_phone(name), index[SILENCE])
    return labels


def build_net(info: PhoneNetInfo) -> Any:
    import torch

    cfg = info.net
    layers: list[Any] = [Standardize(info.feature_dim)]
    width = info.feature_dim
    for _ in range(cfg.layers):
        layers += [torch.nn.Conv1d(width, cfg.hidden, cfg.kernel, padding=cfg.kernel // 2), torch.nn.GELU()]
        width = cfg.hidden
    layers.append(torch.nn.Conv1d(width, len(info.phones), 1))
    return torch.nn.Sequential(*layers)


def _windows(feats: list[np.ndarray], labels: list[np.ndarray], cap: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping CHUNK-frame windows (half overlap); short utterances padded with label -100."""
    spans = []
    for u, f in enumerate(feats):
        starts = range(0, max(len(f) - CHUNK, 0) + 1, CHUNK // 2)
        spans.extend((u, s) for s in starts)
    if len(spans) > cap:
        keep = np.sort(rng.choice(len(spans), cap, replace=False))
        spans = [spans[i] for i in keep]
    dim = feats[0].shape[1]
    x = np.zeros((len(spans), CHUNK, dim), np.float32)
    y = np.full((len(spans), CHUNK), -100, np.int64)
    for i, (u, s) in enumerate(spans):
        piece = feats[u][s:s + CHUNK]
        x[i, :len(piece)] = piece
        y[i, :len(piece)] = labels[u][s:s + len(piece)]
    return x, y


def _accuracy(net: Any, feats: list[np.ndarray], labels: list[np.ndarray]) -> float:
    import torch

    right = total = 0
    with torch.no_grad():
        for f, lab in zip(feats, labels):
            pred = net(torch.from_numpy(f).T[None])[0].argmax(0).numpy()
            right += int((pred == lab).sum())
            total += len(lab)
    return right / max(total, 1)


def train_phonenet(manifest: str | Path, out: str | Path, cfg: PhoneNetConfig | None = None,
                   force: bool = False) -> dict[str, Any]:
    """Train the classifier on the manifest's train entries (valid entries give the accuracy)."""
    import torch

    from slmscale.data.manifest import read_manifest
    from slmscale.units.manifest_jobs import features_for_items, manifest_inputs, manifest_items

    cfg = cfg or PhoneNetConfig()
    out = Path(out)
    manifest = Path(manifest).resolve()
    entries = read_manifest(manifest)
    inputs = manifest_inputs(manifest, entries)
    stage = {"net": cfg.model_dump(mode="json"), "features": feature_config().model_dump(mode="json")}
    if not force and is_fresh(out, fingerprint(KIND, stage, inputs)):
        info(f"{out}: phone classifier is up to date; skipped")
        return read_meta(out, KIND)
    labelled = [e for e in entries if e.phones]
    if not labelled:
        raise UserError(f"{manifest}: no entry has phone alignments (`phones`); the phone encoder needs a "
                        "corpus made by `slmscale synth corpus`, or use --encoder mfcc/hubert")
    (out / META).unlink(missing_ok=True)
    encoder = SpectralEncoder(feature_config())
    inventory = sorted({SILENCE} | {normalize_phone(p[0]) for e in labelled for p in e.phones})
    index = {p: i for i, p in enumerate(inventory)}
    train = [e for e in labelled if e.split == "train"] or labelled
    valid = [e for e in labelled if e.split != "train"]
    data: dict[str, tuple[list, list]] = {}
    for name, part in (("train", train), ("valid", valid)):
        feats, labels = [], []
        items = manifest_items(manifest, part)
        with make_progress("audio-s") as prog:
            task = prog.add_task(f"phone features ({name})", total=len(items), rate="")
            for i in range(0, len(items), 32):
                for item, o in zip(items[i:i + 32], features_for_items(encoder, items[i:i + 32])):
                    if o.value is None:
                        info(f"skipped {item.key}: {o.reason}")
                        continue
                    feats.append(o.value)
                    labels.append(frame_labels(part[item.index].phones, len(o.value), encoder.frame_rate, index))
                prog.update(task, advance=len(items[i:i + 32]))
        data[name] = (feats, labels)
    if not data["train"][0]:
        raise UserError(f"{manifest}: no readable training audio for the phone classifier")
    net_info = PhoneNetInfo(net=cfg, phones=inventory, feature_dim=encoder.dim, frame_rate=encoder.frame_rate)
    rng = np.random.default_rng(cfg.seed)
    x, y = _windows(*data["train"], cfg.max_windows, rng)
    torch.manual_seed(cfg.seed)
    net = build_net(net_info)
    frames = np.concatenate(data["train"][0])
    net[0].mean.copy_(torch.from_numpy(frames.mean(0, dtype=np.float64).astype(np.float32))[:, None])
    net[0].std.copy_(torch.from_numpy(frames.std(0, dtype=np.float64).astype(np.float32) + 1e-5)[:, None])
    del frames
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.01)
    xt, yt = torch.from_numpy(x).transpose(1, 2), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(cfg.seed)
    warmup = max(1, cfg.steps // 20)
    loss_value = float("nan")
    with make_progress("steps") as prog:
        task = prog.add_task("phone classifier", total=cfg.steps, rate="")
        for step in range(cfg.steps):
            lr = cfg.lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * step / cfg.steps))
            for group in opt.param_groups:
                group["lr"] = lr
            batch = torch.randint(0, len(xt), (cfg.batch,), generator=gen)
            loss = torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch], ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_value = loss.item()
            prog.update(task, advance=1, rate=f"loss {loss_value:.3f}")
    net.eval()
    stats = {"phones": len(inventory), "train_frames": int(sum(len(f) for f in data["train"][0])),
             "windows": int(len(x)), "final_loss": round(loss_value, 4),
             "train_accuracy": round(_accuracy(net, *(part[:50] for part in data["train"])), 4),
             "valid_accuracy": (round(_accuracy(net, *data["valid"]), 4) if data["valid"][0] else None)}
    save_phonenet(net, net_info, out)
    meta = write_meta(out, KIND, stage, inputs, manifest=str(manifest), **stats)
    acc = stats["valid_accuracy"]
    info(f"{out}: phone classifier, {len(inventory)} classes, frame accuracy "
         f"{stats['train_accuracy']:.3f} (train){'' if acc is None else f', {acc:.3f} (valid)'}")
    return meta


def save_phonenet(net: Any, net_info: PhoneNetInfo, out: Path) -> None:
    from safetensors.torch import save

    from slmscale.artifacts import atomic_write_bytes

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / WEIGHTS, save({k: v.contiguous() for k, v in net.state_dict().items()}))
    write_json(out / "config.json", net_info.model_dump(mode="json"))


def load_phonenet(path: str | Path) -> tuple[Any, PhoneNetInfo]:
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / "config.json").is_file() or not (path / WEIGHTS).is_file():
        raise UserError(f"{path}: not a phone classifier (config.json and {WEIGHTS} expected); "
                        "train one with `slmscale units phonenet`")
    net_info = validate(PhoneNetInfo, read_json(path / "config.json"), str(path / "config.json"))
    net = build_net(net_info)
    try:
        net.load_state_dict(load_file(str(path / WEIGHTS)))
    except Exception as err:  # wrong shapes or a damaged file
        raise UserError(f"{path / WEIGHTS}: cannot load the phone classifier ({str(err).splitlines()[0]})") from None
    return net.eval(), net_info


class PhoneEncoder(Encoder):
    """Phone posteriors (softmax of a units.phonenet classifier) over MFCC frames, 50 Hz."""

    def __init__(self, cfg: EncoderConfig):
        self.net, net_info = load_phonenet(cfg.checkpoint or "")
        self.mfcc = SpectralEncoder(feature_config())
        if net_info.feature_dim != self.mfcc.dim or net_info.frame_rate != self.mfcc.frame_rate:
            raise UserError(f"{cfg.checkpoint}: the phone classifier expects {net_info.feature_dim}-dim "
                            f"features at {net_info.frame_rate} Hz; retrain it with this version")
        self.frame_rate = self.mfcc.frame_rate
        self.dim = len(net_info.phones)
        self.phones = net_info.phones

    def _posteriors(self, feats: np.ndarray) -> np.ndarray:
        import torch

        if len(feats) == 0:
            return np.zeros((0, self.dim), np.float32)
        with torch.no_grad():
            logits = self.net(torch.from_numpy(np.ascontiguousarray(feats)).T[None])[0].T
            return torch.softmax(logits, dim=-1).numpy().astype(np.float32)

    def features(self, wav: np.ndarray) -> np.ndarray:
        return self._posteriors(self.mfcc.features(wav))

    def features_stream(self, pieces: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        feats, n = self.mfcc.features_stream(pieces)
        return self._posteriors(feats), n

    def feature_blocks(self, open_pieces: Callable[[], Iterable[np.ndarray]]) -> Iterator[np.ndarray]:
        # The classifier's convolutions run over the whole utterance: one block of posteriors.
        yield self.features_stream(open_pieces())[0]
