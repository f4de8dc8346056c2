"""Words to phone strings with espeak-ng (its ASCII phoneme mnemonics, the ones TTS speaks).

`phonemize(words)` returns, for each word, its phones as a tuple of mnemonics with stress marks
attached to the vowel that carries them ("basket" -> ("b", "'aa", "s", "k", "I2", "t")), in one
reference accent (`REFERENCE_VOICE`). The transcription runs in a forked child so that the parent's
engine stays unused: `slmscale.espeak.synth_pristine` relies on forking from a pristine engine, and
phonemising in the parent would change what its children start from.

`speakable(phones)` is the text that makes espeak-ng say exactly those phones ("[[b'aaskI2t]]").
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable

REFERENCE_VOICE = "en-us"
_SEP = "_"
# espeak-ng's English vowel mnemonics start with one of these (consonants never do): a, aa, A:,
# @, @L, 3:, E, e@, eI, i, I, I2, 0, O:, oU, OI, u:, U, V ...
_VOWEL_START = set("aeiouAEIOUV03@")
STRESS = "',"


def base_phone(phone: str) -> str:
    """The phone without its stress mark."""
    return phone.lstrip(STRESS)


def is_vowel(phone: str) -> bool:
    p = base_phone(phone)
    return bool(p) and p[0] in _VOWEL_START


def _phonemize_here(words: list[str]) -> list[list[str]]:
    from slmscale.espeak import Espeak

    engine = Espeak.get()
    lib = engine.lib
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    if lib.espeak_SetVoiceByName(REFERENCE_VOICE.encode()) != 0:
        raise RuntimeError(f"espeak-ng has no voice {REFERENCE_VOICE}")
    mode = ord(_SEP) << 8  # ASCII mnemonics, "_" between phones
    out = []
    for word in words:
        buf = ctypes.create_string_buffer(word.encode("utf-8") + b"\0")
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        parts: list[str] = []
        while ptr.value:
            res = lib.espeak_TextToPhonemes(ctypes.byref(ptr), 1, mode)  # 1 = UTF-8 input
            if res:
                parts.append(res.decode("ascii", "replace"))
        phones = [p for chunk in " ".join(parts).split() for p in chunk.split(_SEP) if p]
        out.append(_attach_stress(phones))
    return out


def _attach_stress(phones: list[str]) -> list[str]:
    """espeak puts a stress mark before the vowel ("'aa") but sometimes as its own item; glue it on."""
    out: list[str] = []
    pending = ""
    for p in phones:
        if p in ("'", ","):
            pending = p
            continue
        out.append(pending + p if pending and is_vowel(p) else p)
        pending = "" if pending and is_vowel(p) else pending
    return out


def _start_child(words: list[str]) -> tuple[int, int]:
    """Fork a child that phonemises `words` and writes them as JSON to a pipe: (pid, read end)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            with os.fdopen(w, "w") as fh:
                json.dump(_phonemize_here(words), fh)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    return pid, r


def _collect(pid: int, r: int) -> list[list[str]] | None:
    """The child's result, or None when it failed (it is reaped either way)."""
    with os.fdopen(r) as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(data) if status == 0 and data else None


# Below this many words one child is quicker than several (a fork costs ~10 ms).
PARALLEL_WORDS = 4000


def _in_child(words: list[str]) -> list[list[str]]:
    """Phones of each word, transcribed in forked children (in parallel for long lists: each
    word is transcribed on its own, so the split does not change the result)."""
    if not hasattr(os, "fork"):  # pragma: no cover - POSIX is the supported platform
        return _phonemize_here(words)
    from slmscale.cpus import usable_cpus

    n = max(1, min(usable_cpus(), len(words) // PARALLEL_WORDS))
    step = -(-len(words) // n)
    children = [_start_child(words[i:i + step]) for i in range(0, len(words), step)]
    # Each child finishes its work before it writes, so reading them in turn does not serialise them.
    parts = [_collect(pid, r) for pid, r in children]
    if any(p is None for p in parts):
        raise RuntimeError("espeak-ng phonemisation failed in a child process")
    return [phones for part in parts for phones in part]  # type: ignore[union-attr]


_CACHE: dict[str, tuple[str, ...]] = {}


def phonemize(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """word -> phones (memoised per process; one child process per call for the new words)."""
    words = list(dict.fromkeys(words))
    todo = [w for w in words if w not in _CACHE]
    if todo:
        for word, phones in zip(todo, _in_child(todo)):
            _CACHE[word] = tuple(phones)
    return {w: _CACHE[w] for w in words}


def phones_of(text_words: list[str]) -> list[tuple[str, ...]]:
    """Phones of each word of a sentence (one espeak call per distinct word)."""
    table = phonemize(text_words)
    return [table[w] for w in text_words]


def speakable(phones: Iterable[str]) -> str:
    """Text that makes espeak-ng speak exactly these phones."""
    return "[[" + "".join(phones) + "]]"


def _cache_file(words: list[str]) -> Path:
    import espeakng_loader

    key = hashlib.sha256(("\n".join(words) + espeakng_loader.get_library_path()).encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slmscale" / "phonemes"
    return root / f"pronunciations-{REFERENCE_VOICE}-{key}.json"


@lru_cache(maxsize=4)
def pronunciations(words: frozenset[str]) -> frozenset[tuple[str, ...]]:
    """Stress-free pronunciations of a word set (for homophone checks). Large sets (the 250k
    english-words lists take a minute to transcribe) are cached on disk, keyed by the word list
    and the espeak-ng library."""
    ordered = sorted(words)
    path = _cache_file(ordered) if len(ordered) > 20000 else None
    if path is not None and path.is_file():
        try:
            return frozenset(tuple(x.split()) for x in json.loads(path.read_text()))
        except (OSError, ValueError):
            pass  # a damaged cache is recomputed
    out = frozenset(tuple(base_phone(p) for p in ph) for ph in phonemize(ordered).values())
    if path is not None:
        try:
            from slmscale.artifacts import atomic_write_text

            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(sorted(" ".join(x) for x in out)))
        except OSError:
            pass  # an unwritable cache only costs time
    if path is not None:  # the big list is not worth keeping in the per-process memo
        for w in ordered:
            _CACHE.pop(w, None)
    return out
