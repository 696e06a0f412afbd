"""Audio bytes: PCM → 48 kHz mono OGG/Opus (what Telegram plays as a voice note), durations.

Opus only runs at 8/12/16/24/48 kHz; eSpeak NG speaks at 22,050 Hz, so samples are resampled
with libsoxr (high quality) before libsndfile (bundled with `soundfile`) encodes them.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from ..lazy import lazy_module
from . import VoiceError

np = lazy_module("numpy")
sf = lazy_module("soundfile")
soxr = lazy_module("soxr")

OPUS_RATE = 48_000


@dataclass(frozen=True)
class Audio:
    data: bytes
    extension: str  # "ogg" or "mp3": the file's format
    duration_s: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def encode_ogg_opus(samples: np.ndarray, rate: int) -> Audio:
    """int16 or float mono samples at `rate` → OGG/Opus bytes at 48 kHz."""
    mono = np.asarray(samples)
    if mono.dtype == np.int16:
        mono = mono.astype(np.float32) / 32768.0
    mono = mono.astype(np.float32, copy=False)
    if rate != OPUS_RATE:
        mono = soxr.resample(mono, rate, OPUS_RATE, quality="HQ")
    buf = io.BytesIO()
    sf.write(buf, np.clip(mono, -1.0, 1.0), OPUS_RATE, format="OGG", subtype="OPUS")
    return Audio(buf.getvalue(), "ogg", round(len(mono) / OPUS_RATE, 3))


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Samples (float, mono mixed) and rate of OGG (Opus/Vorbis) or MP3 bytes."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise VoiceError(f"the audio could not be decoded ({exc}); it is not OGG or MP3") \
            from None
    return samples.mean(axis=1), rate


def duration_of(data: bytes) -> float:
    samples, rate = decode(data)
    return round(len(samples) / rate, 3)


def extension_of(data: bytes) -> str:
    """ogg or mp3, from the bytes themselves (what an engine returned, not what was asked)."""
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    raise VoiceError("the engine returned audio that is neither OGG nor MP3")
