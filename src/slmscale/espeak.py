"""A minimal ctypes binding to libespeak-ng, as shipped by the `espeakng-loader` wheel.

A foundation module, not part of `audio`: synthesis (`audio.tts`) and phonemisation
(`text.phonemes`) both drive the same engine, and text sits below audio in the layers.

Only what synthesis with word timings needs: initialise once per process in synchronous mode,
select a voice (with a "+variant"), set rate/pitch/range, synthesise text and collect the samples
plus the word events. espeak-ng keeps global state and is not thread-safe, so every call goes
through one process-wide `Espeak` object guarded by a lock; parallelism comes from processes.

Determinism: espeak-ng's waveform generator keeps static state between utterances (glottal phase,
pitch flutter, echo buffer, gain control) that re-initialising does not reset, so the same text
gives slightly different samples depending on what was spoken before; and it seeds its breath
noise from the clock. `synth_pristine` therefore forks a child from a process whose engine has
been initialised but never used, and fixes the noise seed: every job list starts from the same
state, so its bytes depend only on the job list itself.
"""

from __future__ import annotations

import ctypes
import io
import os
import struct
import threading
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from slmscale.errors import UserError

# Values from espeak-ng's speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_DONT_EXIT = 0x8000
CHARS_UTF8 = 1
SSML = 0x10
PHONEMES = 0x100  # espeakPHONEMES: "[[...]]" in the text is read as phoneme mnemonics
POS_CHARACTER = 1
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_PHONEME = 0, 1, 7
PARAM_RATE, PARAM_VOLUME, PARAM_PITCH, PARAM_RANGE, PARAM_WORDGAP = 1, 2, 3, 4, 7
EE_OK = 0
RAND_SEED = 20240611


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character offset of the word in the text
        ("length", ctypes.c_int),  # word length in characters
        ("audio_position", ctypes.c_int),  # ms since the start of this synthesis
        ("sample", ctypes.c_int),  # the same position, in samples at the native rate
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


WORD, PHONE, PAUSE = 1, 2, 3  # SynthEvent.kind


@dataclass(frozen=True)
class SynthEvent:
    """A word start, or a phoneme start (PAUSE for espeak's pause phonemes "_", "_:", ...)."""

    text_position: int  # 0-based character offset into the synthesised text
    length: int  # characters (words only)
    sample: int  # native-rate sample where espeak starts the word or phoneme
    kind: int = WORD
    phone: str = ""  # espeak's phoneme mnemonic (PHONE and PAUSE events), e.g. "aI", "_:"


def pack_phone(name: bytes) -> int:
    """A phoneme mnemonic (at most 8 bytes) as one int64, so events cross the pipe as numbers."""
    return int.from_bytes(name[:8].ljust(8, b"\0"), "little", signed=True)


def unpack_phone(code: int) -> str:
    return int(code).to_bytes(8, "little", signed=True).rstrip(b"\0").decode("ascii", "replace")


class EspeakError(UserError):
    pass


class Espeak:
    """The process-wide espeak-ng engine; use `Espeak.get()`."""

    _instance: "Espeak | None" = None
    _create_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:  # pragma: no cover - a declared dependency
            raise EspeakError("espeakng-loader is not installed; run `pip install espeakng-loader`") from None
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as err:
            raise EspeakError(f"cannot load libespeak-ng from espeakng-loader ({err})") from None
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint),
                                     ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        self.set_rand_seed = getattr(lib, "espeak_ng_SetRandSeed", None)  # espeak-ng >= 1.52
        if self.set_rand_seed is not None:
            self.set_rand_seed.argtypes = [ctypes.c_long]
            self.set_rand_seed.restype = None
        data = espeakng_loader.get_data_path().encode()
        # 500 ms buffers: fewer Python callbacks per utterance.
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 500, data,
                                     INITIALIZE_DONT_EXIT | INITIALIZE_PHONEME_EVENTS)
        if rate <= 0:
            raise EspeakError(f"espeak-ng failed to initialise with data at {data.decode()}")
        self.lib = lib
        self.sample_rate = int(rate)
        self.lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[SynthEvent] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: C holds only the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._voice_key: tuple | None = None

    @classmethod
    def get(cls) -> "Espeak":
        with cls._create_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _on_audio(self, wav, n, events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == EVENT_WORD:
                self._events.append(SynthEvent(ev.text_position - 1, ev.length, ev.sample, WORD))
            elif ev.type == EVENT_PHONEME:
                name = bytes(ev.id.string)
                kind = PAUSE if name.startswith(b"_") else PHONE
                self._events.append(SynthEvent(ev.text_position - 1, 0, ev.sample, kind,
                                               name.decode("ascii", "replace")))
            i += 1
        return 0  # 0 = continue synthesis

    def set_voice(self, name: str, rate: int, pitch: int, pitch_range: int, word_gap: int = 0) -> None:
        """Select a voice by name (e.g. "en-us+f3"), its words/min, pitch and range (0-100), and
        an extra pause between words (10 ms units)."""
        key = (name, rate, pitch, pitch_range, word_gap)
        if key == self._voice_key:
            return
        if self.lib.espeak_SetVoiceByName(name.encode()) != EE_OK:
            raise EspeakError(f"espeak-ng has no voice {name!r}")
        for param, value in ((PARAM_RATE, rate), (PARAM_PITCH, pitch), (PARAM_RANGE, pitch_range),
                             (PARAM_WORDGAP, word_gap)):
            if self.lib.espeak_SetParameter(param, int(value), 0) != EE_OK:
                raise EspeakError(f"espeak-ng rejected parameter {param}={value} for voice {name!r}")
        self._voice_key = key

    def synth(self, text: str, ssml: bool = False) -> tuple[np.ndarray, list[SynthEvent]]:
        """int16 samples at `self.sample_rate` and the word and phoneme events of one utterance.

        Call with `self.lock` held (together with `set_voice`) when threads share the engine.
        """
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        flags = CHARS_UTF8 | PHONEMES | (SSML if ssml else 0)
        err = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, flags, None, None)
        if err != EE_OK:
            raise EspeakError(f"espeak-ng failed to synthesise text (error {err}): {text[:60]!r}")
        wav = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        events, self._chunks, self._events = self._events, [], []
        return wav, events


Job = tuple[tuple[str, int, int, int, int], str]  # (Voice.key, text)
_HEAD = struct.Struct("<qqq")  # status (0 ok, 1 error), n_samples | n_message_bytes, n_events
_EVENT_FIELDS = 5  # text_position, length, sample, kind, packed phoneme name


def _run_jobs(engine: Espeak, jobs: list[Job], out: BinaryIO) -> None:
    # espeak-ng seeds its noise generator (breath noise of the f2/f3/f5 variants) from the clock
    # at initialisation; a fixed seed makes the noise, hence the bytes, reproducible.
    if engine.set_rand_seed is not None:
        engine.set_rand_seed(RAND_SEED)
    for key, text in jobs:
        try:
            engine.set_voice(*key)
            wav, events = engine.synth(text)
        except Exception as err:  # reported per job; the rest still run
            msg = (str(err) or type(err).__name__).encode()
            out.write(_HEAD.pack(1, len(msg), 0) + msg)
            continue
        ev = np.array([(e.text_position, e.length, e.sample, e.kind, pack_phone(e.phone.encode()))
                       for e in events], np.int64).reshape(-1, _EVENT_FIELDS)
        out.write(_HEAD.pack(0, len(wav), len(ev)))
        out.write(wav.astype("<i2", copy=False).tobytes())
        out.write(ev.astype("<i8").tobytes())


def _parse(data: bytes, n_jobs: int) -> list[tuple[np.ndarray, list[SynthEvent]] | str]:
    results: list[tuple[np.ndarray, list[SynthEvent]] | str] = []
    pos = 0
    while pos < len(data) and len(results) < n_jobs:
        status, n, n_ev = _HEAD.unpack_from(data, pos)
        pos += _HEAD.size
        if status:
            results.append(data[pos:pos + n].decode(errors="replace") or "synthesis failed")
            pos += n
            continue
        wav = np.frombuffer(data, "<i2", n, pos).astype(np.int16)
        pos += 2 * n
        ev = np.frombuffer(data, "<i8", _EVENT_FIELDS * n_ev, pos).reshape(-1, _EVENT_FIELDS)
        pos += 8 * _EVENT_FIELDS * n_ev
        results.append((wav, [SynthEvent(int(a), int(b), int(c), int(d), unpack_phone(e) if d != WORD else "")
                              for a, b, c, d, e in ev]))
    return results


def synth_pristine(jobs: list[Job]) -> list[tuple[np.ndarray, list[SynthEvent]] | str]:
    """Synthesise `jobs` in order, starting from a freshly initialised engine state.

    Returns, per job, (int16 samples at the native rate, word events) or an error message.
    Without os.fork (Windows) the jobs run in this process and only the first call is pristine.
    """
    engine = Espeak.get()
    if not jobs:
        return []
    if not hasattr(os, "fork"):  # pragma: no cover - POSIX is the supported platform
        buf = io.BytesIO()
        with engine.lock:
            _run_jobs(engine, jobs, buf)
        return _parse(buf.getvalue(), len(jobs))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: synthesise, stream the results, leave without running any cleanup
        code = 0
        try:
            os.close(r)
            with os.fdopen(w, "wb") as out:
                _run_jobs(engine, jobs, out)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    results = _parse(data, len(jobs))
    if len(results) < len(jobs):
        why = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        raise EspeakError(f"espeak-ng worker died ({why}) after {len(results)} of {len(jobs)} "
                          f"utterances; next text: {jobs[len(results)][1][:60]!r}")
    return results
