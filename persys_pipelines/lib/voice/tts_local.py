"""The local voice: eSpeak NG from the `espeakng-loader` wheel, called through ctypes.

No system package, no network, no cost. libespeak-ng is initialised once per process in
synchronous mode (`AUDIO_OUTPUT_SYNCHRONOUS`): `espeak_Synth` returns when the whole text is
spoken, having handed 16-bit mono samples at 22,050 Hz to our callback. The library keeps
global state, so calls are serialised with a lock.
"""

from __future__ import annotations

import ctypes
import threading

from ..lazy import lazy_module
from . import VoiceError
from .audio import Audio, encode_ogg_opus

np = lazy_module("numpy")

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_RATE = 1  # espeak_PARAMETER: words per minute
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
EE_NOT_FOUND = 2

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)
_lock = threading.Lock()
_state: dict = {}  # lib, rate, callback (kept referenced), chunks of the current synthesis


def _library() -> tuple[ctypes.CDLL, int]:
    if "lib" not in _state:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                     espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise VoiceError("eSpeak NG could not start (espeak_Initialize failed); "
                             "reinstall the espeakng-loader package")

        def collect(wav, n, _events) -> int:
            if n > 0:
                _state["chunks"].append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        _state["callback"] = _CALLBACK(collect)
        lib.espeak_SetSynthCallback(_state["callback"])
        _state.update(lib=lib, rate=rate, chunks=[])
    return _state["lib"], _state["rate"]


def synthesize_pcm(text: str, *, voice: str = "en", words_per_minute: int = 165
                   ) -> tuple[np.ndarray, int]:
    """int16 mono samples and their rate (22,050 Hz)."""
    with _lock:
        lib, rate = _library()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise VoiceError(f"voice.local.voice {voice!r} is not an eSpeak NG voice; use e.g. "
                             "en (British English), en-us, de, fr or en+f3")
        lib.espeak_SetParameter(ESPEAK_RATE, words_per_minute, 0)
        _state["chunks"] = []
        data = text.encode("utf-8")
        status = lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8,
                                  None, None)
        chunks, _state["chunks"] = _state["chunks"], []
    if status != 0:
        raise VoiceError(f"eSpeak NG could not speak the text (error {status})")
    if not chunks:
        raise VoiceError("eSpeak NG produced no audio for the text")
    return np.concatenate(chunks), rate


def synthesize(text: str, *, voice: str = "en", words_per_minute: int = 165) -> Audio:
    """The text spoken by eSpeak NG as 48 kHz mono OGG/Opus."""
    samples, rate = synthesize_pcm(text, voice=voice, words_per_minute=words_per_minute)
    return encode_ogg_opus(samples, rate)
