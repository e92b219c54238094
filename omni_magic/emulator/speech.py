"""Real speech from an offline synthesizer (espeak-ng), or a labelled placeholder tone.

espeak-ng comes from the optional ``espeakng-loader`` wheel, which ships the
library and its data; it is driven through ctypes. The library keeps one
global state and is not thread-safe, so one lazily initialized engine per
process serves every request under a lock.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading
from typing import TYPE_CHECKING

from ..catalog import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np

TONE_LABEL = "tone (no speech synthesizer: pip install 'omni_magic[speech]')"
FEMALE = frozenset({"Cherry", "Serena", "Chelsie", "Jennifer", "Katerina", "Jada", "Sunny",
                    "Kiki"})
# Runs of Han, kana and Hangul are read with the Mandarin voice, the rest in English.
_CJK_RUN = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
                      r"\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+")
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: PLAYBACK, RETRIEVAL, SYNCHRONOUS, ...
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1  # espeak_PARAMETER espeakRATE, words per minute
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


class _Espeak:
    """The process's one espeak-ng instance."""

    def __init__(self, lib: ctypes.CDLL, data_path: str) -> None:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        self.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.rate <= 0:
            raise OSError(f"espeak_Initialize failed with {self.rate}")
        self.lib = lib
        self.label = f"espeak-ng {lib.espeak_Info(None).decode()}"
        self.lock = threading.Lock()
        self._pieces: list[bytes] = []
        # Kept on the instance: ctypes must not collect the callback while C holds it.
        self._callback = _CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, samples: int, _events) -> int:
        if wav and samples > 0:
            self._pieces.append(ctypes.string_at(wav, samples * 2))
        return 0  # 0 = continue synthesis

    def speak(self, text: str, voice: str) -> bytes:
        """PCM16 mono at ``self.rate`` for text, switching to Mandarin for CJK runs."""
        variant = "+f3" if voice in FEMALE else "+m3"
        with self.lock:
            self._pieces = []
            for piece, cjk in _runs(text):
                self.lib.espeak_SetVoiceByName((("cmn" if cjk else "en") + variant).encode())
                self.lib.espeak_SetParameter(_RATE, 170, 0)
                data = piece.encode("utf-8")
                self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                      None, None)
                self.lib.espeak_Synchronize()
            return b"".join(self._pieces)


def _runs(text: str) -> list[tuple[str, bool]]:
    """Text split into (piece, is_cjk) runs, in order, dropping blank pieces."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        out.append((text[pos:m.start()], False))
        out.append((m.group(), True))
        pos = m.end()
    out.append((text[pos:], False))
    return [(p, cjk) for p, cjk in out if p.strip()]


_ENGINE_LOCK = threading.Lock()
_NOT_LOADED = object()
_engine_instance: object = _NOT_LOADED


def _engine() -> _Espeak | None:
    """The one engine, created once even when many requests arrive together: lru_cache does
    not promise one call under threads, and two espeak_Initialize calls at once crash."""
    global _engine_instance
    with _ENGINE_LOCK:
        if _engine_instance is _NOT_LOADED:
            try:
                import espeakng_loader  # type: ignore[import-not-found]

                _engine_instance = _Espeak(ctypes.CDLL(espeakng_loader.get_library_path()),
                                           espeakng_loader.get_data_path())
            except Exception:  # absent, or the library would not load: fall back to the tone
                _engine_instance = None
        return _engine_instance  # type: ignore[return-value]


def available() -> bool:
    """True when real speech can be synthesized."""
    return _engine() is not None


@functools.lru_cache(maxsize=32)
def synthesize(text: str, voice: str) -> tuple[np.ndarray, str]:
    """(1-D int16 PCM at catalog.SAMPLE_RATE, label of what produced it).

    Cached: espeak-ng varies its pitch a little from call to call, and the
    emulator must answer the same request with the same bytes (two clients
    reading one request are compared sample for sample). The array is read-only.
    """
    import numpy as np

    engine = _engine()
    if engine is None:
        return _tone(text), TONE_LABEL
    pcm = np.frombuffer(engine.speak(text, voice), dtype="<i2")
    out = _resample(pcm, engine.rate, SAMPLE_RATE)
    out.flags.writeable = False
    return out, engine.label


def _resample(pcm: np.ndarray, src: int, dst: int) -> np.ndarray:
    import numpy as np

    if src == dst or pcm.size == 0:
        return pcm.astype(np.int16)
    n = int(round(pcm.size * dst / src))
    x = np.linspace(0, pcm.size - 1, n)
    return np.interp(x, np.arange(pcm.size), pcm.astype(np.float64)).round().astype(np.int16)


def _tone(text: str) -> np.ndarray:
    """A quiet 440 Hz beep per word (0.2 s on, 0.1 s off), as long as reading the words."""
    import numpy as np

    words = max(1, len(text.split()))
    t = np.arange(int(0.2 * SAMPLE_RATE)) / SAMPLE_RATE
    beep = (0.1 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    gap = np.zeros(int(0.1 * SAMPLE_RATE), dtype=np.int16)
    return np.tile(np.concatenate([beep, gap]), words)
