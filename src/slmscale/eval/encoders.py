"""What turns benchmark items into the token ids a run was trained on.

An encoder exposes `key` (identity for the cache: same key = same tokens), `modality` ("audio" for
speech benchmarks, "text" for text versions), `encode(items)` (wav paths or texts -> int64 arrays),
optionally `shift` (added to encode's ids to give ids in the model's vocabulary; 0 when absent),
and the scoring frame: `prefix`, `suffix`, `allowed_tokens`. Units are cached before the shift, so
an interleaved model (units offset into its extended vocabulary) reuses the textless arm's cache
instead of running the speech encoder over every benchmark again.

Scoring frame (BOS/EOS). Training streams are documents each followed by EOS (slmscale.data.loader),
so a document always starts right after an EOS: the prefix is `[EOS]` (or `[BOS]` when a vocabulary
has no EOS), and EOS is appended and scored as the end of the utterance. Interleaved models frame a
span as slmscale.data.interleave does: its modality switch token, then its content. Speech:
`[EOS, <speech>]` + unit ids (offset into the extended vocabulary), softmax restricted to the unit
tokens + EOS. Text: `[EOS, <text>]` + the text encoded on its own, softmax restricted to the
original text vocabulary (EOS included), the mirror of the speech restriction: mass the model puts
on `<speech>` or unit tokens is a decision to switch modality, not a judgement of the sentence, and
with it excluded the score is a distribution over the same tokens a text LM scores.
Interleaved encoders carry `switch_token` (their modality's switch token id) for cross-modal use.

Built from `RUN/final/slmscale.json` (see CONTRACTS.md) by `encoder_from_run`; tests pass their own
object with the same attributes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from slmscale.artifacts import sha256_json
from slmscale.errors import UserError

# The code that turns benchmark audio or text into token ids. Its source is part of every
# encoder's cache key, so tokens cached by another version of it are never reused (a changed
# feature or voice-statistics computation re-tokenises; tests/eval/test_encoders.py checks that
# every units/audio module a tokenisation loads is listed).
TOKENISING_MODULES = (
    "slmscale.audio.io", "slmscale.units.bundle", "slmscale.units.dedup", "slmscale.units.encoder_base",
    "slmscale.units.encoders", "slmscale.units.kmeans", "slmscale.units.manifest_jobs", "slmscale.units.melbank",
    "slmscale.units.phonenet", "slmscale.units.smoothing", "slmscale.units.spectral", "slmscale.units.unigram",
    "slmscale.units.voice_norm", "slmscale.eval.encoders", "slmscale.text.bpe", "slmscale.text.interleaved_vocab",
)


# The libraries whose arithmetic or parsing those modules' token ids depend on (features, resampling,
# k-means distances, subword models). Their installed versions are part of the key too: an upgraded
# torch or numpy may move a frame to another centroid. Libraries the modules import only to load,
# validate or pace work (joblib, pydantic, threadpoolctl) cannot change a token and are left out;
# tests/eval/test_encoders.py checks that every other library the modules import is listed.
TOKENISING_LIBRARIES = ("numpy", "scipy", "scikit-learn", "soundfile", "soxr", "torch", "transformers",
                        "tokenizers", "sentencepiece", "safetensors")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # an optional library that is not installed cannot have tokenised anything
        return "absent"


@functools.cache
def tokenising_code() -> str:
    """A hash of the source of TOKENISING_MODULES and the versions of TOKENISING_LIBRARIES (this
    installation's version of that code)."""
    import hashlib
    import importlib.util

    digest = hashlib.sha256()
    for name in TOKENISING_MODULES:
        spec = importlib.util.find_spec(name)
        digest.update(name.encode() + b"\0" + Path(str(spec.origin)).read_bytes() + b"\0")
    for dist in TOKENISING_LIBRARIES:
        digest.update(f"{dist}=={_version(dist)}".encode() + b"\0")
    return digest.hexdigest()[:16]


class Encoder(Protocol):
    key: str
    modality: str
    prefix: list[int]
    suffix: list[int]
    allowed_tokens: list[int] | None

    def encode(self, items: Sequence[Any]) -> list[np.ndarray | None]:
        """Token ids per item; None for an item that cannot be read (it is skipped and listed)."""


def frame(special: dict[str, int]) -> tuple[list[int], list[int]]:
    """(prefix, suffix) from a vocabulary's special tokens, mirroring the training stream."""
    if "eos" in special:
        return [int(special["eos"])], [int(special["eos"])]
    if "bos" in special:
        return [int(special["bos"])], []
    return [], []


def voice_statistics_label(seconds: float | None) -> str:
    """How a voice-normalised tokenizer got each benchmark voice's statistics, as results record it."""
    return "all" if seconds is None else f"{seconds:g} s"


class UnitsEncoder:
    """Audio -> speech units with a saved SpeechTokenizer bundle; `shift` offsets them for
    interleaved models."""

    modality = "audio"

    def __init__(self, tokenizer: Any, special: dict[str, int], dedup: bool | None = None,
                 unit_offset: int = 0, speech_token: int | None = None, batch: int = 16,
                 voice_seconds: float | None = None):
        self.tokenizer = tokenizer
        self.dedup = tokenizer.dedup if dedup is None else bool(dedup)
        self.offset = self.shift = int(unit_offset)
        self.batch = batch
        self.prefix, self.suffix = frame(special)
        self.allowed_tokens = None
        self.switch_token = None if speech_token is None else int(speech_token)
        if speech_token is not None:
            self.prefix = self.prefix + [int(speech_token)]
            self.allowed_tokens = list(range(self.offset, self.offset + tokenizer.k)) + self.suffix
        # Voice-normalised tokens depend on which audio gives each voice its statistics: by
        # default all of the voice's audio in the benchmark (nothing to choose, so no choice moves
        # a score), or its first `voice_seconds` ranked by item name. Caches made any other way
        # (e.g. ranked by path) are not reused.
        self.voice_seconds = voice_seconds
        self.voice_statistics: str | None = None  # how, for records; None: not voice-normalised
        per_voice: dict[str, Any] = {}
        if getattr(tokenizer, "per_voice", False):
            self.voice_statistics = voice_statistics_label(voice_seconds)
            per_voice = {"voice_statistics": "all" if voice_seconds is None else {"by-item-name": voice_seconds}}
        self.key = sha256_json({"kind": "units", "fingerprint": tokenizer.fingerprint(), "dedup": self.dedup,
                                "code": tokenising_code(), **per_voice})
        # The draw an LM on these tokens shares with other LMs (results record it; `slmscale
        # compare` resamples draws): the pretrained encoder when there is one, else the tokenizer.
        sha = getattr(getattr(getattr(tokenizer, "config", None), "encoder", None), "checkpoint_sha256", None)
        self.tokens_from = f"checkpoint:{sha}" if sha else f"tokenizer:{tokenizer.fingerprint()}"
        self.voices: dict[str, str] = {}  # audio path -> voice (voice-normalised tokenizers)

    def prepare_voices(self, paths: Sequence[Path], voices: Sequence[str],
                       keys: Sequence[str] | None = None) -> None:
        """Learn each item's voice and, when the tokenizer normalises per voice, each voice's
        statistics from the benchmark's own audio of that voice: all of it, or with
        `voice_seconds` the items that `keys` (their names in the benchmark; else the paths) rank
        first, so the choice does not depend on where the benchmark folder lies."""
        self.voices.update({str(p): v for p, v in zip(paths, voices)})
        if not getattr(self.tokenizer, "per_voice", False):
            return
        from slmscale.audio.io import probe_audio
        from slmscale.units.manifest_jobs import Item

        items = []
        for i, (p, v) in enumerate(zip(paths, voices)):
            try:
                seconds = probe_audio(p).duration
            except Exception:  # an unreadable file is left out here and reported by encode
                continue
            items.append(Item(i, str(keys[i]) if keys is not None else str(p), str(p), seconds, v))
        self.tokenizer.adapt(items, seconds=self.voice_seconds, whole=self.voice_seconds is None)
        from slmscale.progress import info

        for voice in sorted(set(voices)):
            reason = self.tokenizer.voice_ready(voice)
            if reason is not None:  # its items come back unreadable; say why once
                info(f"{reason}; its benchmark items are skipped")

    def encode(self, items: Sequence[Path]) -> list[np.ndarray | None]:
        """Unit ids 0..k-1 (before `shift`); None for unreadable audio (and, with voice
        normalisation, for a voice without statistics)."""
        from slmscale.audio.io import AudioError, load_audio

        ready = getattr(self.tokenizer, "voice_ready", lambda _v: None)
        out: list[np.ndarray | None] = []
        for start in range(0, len(items), self.batch):
            wavs, where, voices = [], [], []
            for i, path in enumerate(items[start:start + self.batch]):
                voice = self.voices.get(str(path), "")
                if ready(voice) is not None:
                    continue
                try:
                    wavs.append(load_audio(path))
                    where.append(i)
                    voices.append(voice)
                except AudioError:
                    pass
            chunk: list[np.ndarray | None] = [None] * len(items[start:start + self.batch])
            kwargs = {"voices": voices} if voices and self.voices else {}
            for i, (units, _) in zip(where, self.tokenizer.encode_batch(wavs, dedup=self.dedup, **kwargs)):
                chunk[i] = np.asarray(units, dtype=np.int64)
            out.extend(chunk)
        return out


class UnigramEncoder:
    """Audio -> units -> SentencePiece unigram pieces (the coarser-token arm)."""

    modality = "audio"
    allowed_tokens = None

    def __init__(self, units: UnitsEncoder, unigram: Any, unigram_fingerprint: str):
        self.units = units
        self.unigram = unigram
        self.prefix, self.suffix = units.prefix, units.suffix
        self.key = sha256_json({"kind": "unigram", "units": units.key, "unigram": unigram_fingerprint})
        self.voice_statistics = units.voice_statistics
        self.tokens_from = units.tokens_from

    def prepare_voices(self, paths: Sequence[Path], voices: Sequence[str],
                       keys: Sequence[str] | None = None) -> None:
        self.units.prepare_voices(paths, voices, keys)

    def encode(self, items: Sequence[Path]) -> list[np.ndarray | None]:
        units = self.units.encode(items)
        ok = [u for u in units if u is not None]
        pieces = iter(self.unigram.encode_many(ok)) if ok else iter(())
        return [None if u is None else next(pieces) for u in units]


class TextEncoder:
    """Text -> ids with a Hugging Face tokenizer directory (content tokens only)."""

    modality = "text"
    allowed_tokens = None

    def __init__(self, tokenizer: Any, special: dict[str, int], fingerprint: str = ""):
        self.tokenizer = tokenizer
        self.prefix, self.suffix = frame(special)
        self.key = sha256_json({"kind": "text", "fingerprint": fingerprint or tokenizer.name_or_path,
                                "code": tokenising_code()})
        self.tokens_from = f"text:{fingerprint or tokenizer.name_or_path}"

    def encode(self, items: Sequence[str]) -> list[np.ndarray | None]:
        from slmscale.text.bpe import encode_texts

        return list(encode_texts(self.tokenizer, list(items)))


class InterleavedTextEncoder(TextEncoder):
    """Text -> ids of an interleaved model's extended tokenizer, framed as a text span in training:
    `<text>` then the text encoded on its own; scored over the original text vocabulary + EOS."""

    def __init__(self, tokenizer: Any, vocab: Any, special: dict[str, int], fingerprint: str = ""):
        super().__init__(tokenizer, special, fingerprint)
        self.switch_token = int(vocab.text_token_id)
        self.prefix = self.prefix + [self.switch_token]
        self.allowed_tokens = sorted(set(range(int(vocab.original_size))) | set(self.suffix))
        self.key = sha256_json({"kind": "interleaved-text", "text_token": self.switch_token,
                                "fingerprint": fingerprint or tokenizer.name_or_path, "code": tokenising_code()})


def _interleaved_parts(tok: dict[str, Any], where: Path) -> tuple[str, dict[str, Any]]:
    """(extended tokenizer dir, unit tokenizer info) of an interleaved run's tokenizer entry.
    Shards written by slmscale.data.interleave nest the unit tokenizer under `units`."""
    units = dict(tok.get("units") or tok.get("speech") or {})
    if tok.get("units_path"):
        units["path"] = tok["units_path"]
    if tok.get("dedup") is not None:
        units["dedup"] = tok["dedup"]
    vocab_dir = tok.get("text_path") or tok.get("path") or str(where.parent)
    return vocab_dir, units


def _speech_tokenizer(info: dict[str, Any], where: Path) -> tuple[str | None, dict[str, Any]]:
    """(the run's modality, the entry of its speech tokenizer: `path`, `dedup`; empty for text runs)."""
    tok = info.get("tokenizer") or {}
    kind = info.get("modality") or tok.get("kind")
    if kind in ("units", "unigram"):
        return kind, tok
    if kind == "interleaved":
        return kind, _interleaved_parts(tok, where)[1]
    return kind, {}


def encoder_from_run(info: dict[str, Any], where: Path, modality: str | None = None, *,
                     text: bool = False, voice_seconds: float | None = None) -> Encoder:
    """The encoder that reproduces a run's tokenisation (`info` = RUN/final/slmscale.json).
    `text=True` asks for the text side of an interleaved run (text runs are text anyway).
    `voice_seconds`: with a voice-normalised speech tokenizer, each benchmark voice's statistics
    come from that much of its audio (None: all of it)."""
    tok = info.get("tokenizer") or {}
    special = info.get("special_tokens") or {}
    kind = modality or _speech_tokenizer(info, where)[0]
    if text and kind not in ("text", "interleaved"):
        raise UserError(f"{where}: a {kind!r} run has no text vocabulary; text versions of the tasks "
                        "need a text or interleaved run")
    if kind == "units":
        from slmscale.units.bundle import SpeechTokenizer

        if not tok.get("path"):
            raise UserError(f"{where}: tokenizer.path missing; cannot tokenise benchmark audio")
        return UnitsEncoder(SpeechTokenizer.load(tok["path"]), special, dedup=tok.get("dedup"),
                            voice_seconds=voice_seconds)
    if kind == "unigram":
        from slmscale.artifacts import sha256_file
        from slmscale.units.bundle import SpeechTokenizer
        from slmscale.units.unigram import UnigramTokenizer

        path = tok.get("unigram_path")
        if not tok.get("path") or not path or not Path(path).is_file():
            raise UserError(f"{where}: unigram run needs tokenizer.path and an existing tokenizer.unigram_path")
        units = UnitsEncoder(SpeechTokenizer.load(tok["path"]), special, dedup=tok.get("dedup"),
                            voice_seconds=voice_seconds)
        return UnigramEncoder(units, UnigramTokenizer.load(path), sha256_file(path))
    if kind == "text":
        from slmscale.text.bpe import load_tokenizer

        return TextEncoder(load_tokenizer(tok["path"]), special, tok.get("fingerprint", ""))
    if kind == "interleaved":
        # The extended tokenizer directory holds speech_vocab.json (unit offset, switch tokens).
        from slmscale.text.interleaved_vocab import read_speech_vocab

        vocab_dir, units = _interleaved_parts(tok, where)
        sv = read_speech_vocab(vocab_dir)
        special = special or sv.special_tokens()
        if text:
            from slmscale.text.bpe import load_tokenizer

            return InterleavedTextEncoder(load_tokenizer(vocab_dir), sv, special, tok.get("fingerprint", ""))
        from slmscale.units.bundle import SpeechTokenizer

        if not units.get("path"):
            raise UserError(f"{where}: interleaved run lacks tokenizer.units.path (the speech tokenizer)")
        return UnitsEncoder(SpeechTokenizer.load(units["path"]), special, dedup=units.get("dedup"),
                            unit_offset=sv.unit_offset, speech_token=sv.speech_token_id,
                            voice_seconds=voice_seconds)
    raise UserError(f"{where}: cannot evaluate modality {kind!r} (supported: units, unigram, text, interleaved)")


def speech_voice_statistics(info: dict[str, Any], where: Path, voice_seconds: float | None = None) -> str | None:
    """How an eval of a run's speech tasks gets each benchmark voice's statistics
    (voice_statistics_label), or None when the run's speech tokenizer does not normalise per voice
    (or it has none); a UserError when its folder is gone. Reads only the tokenizer's config."""
    from slmscale.artifacts import read_json

    path = _speech_tokenizer(info, where)[1].get("path")
    if not path:
        return None
    config = Path(path) / "config.json"
    if not config.is_file():
        raise UserError(f"{config}: the run's speech tokenizer is gone; cannot tell how its benchmark voices are normalised")
    if read_json(config).get("voice_norm") is None:
        return None
    return voice_statistics_label(voice_seconds)
