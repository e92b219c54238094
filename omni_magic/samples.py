"""numpy audio samples as the bytes of a 16-bit PCM WAV file, or a sentence saying why not.

Audio given as an array (with ``--rate``) or a ``(samples, rate)`` tuple is written as a WAV
before it is attached. Arrays come in every dtype numpy has (its default int is int64, which
soundfile cannot write), rates come from a command line or a tuple: each is checked here, so
a user reads what to change instead of a soundfile or overflow traceback.
"""

from __future__ import annotations

import io
import numbers
from typing import Any

from .errors import InvalidRequest

MAX_RATE = 768_000  # the highest rate audio interfaces record; soundfile's int overflows at 2**31


def to_wav(samples: Any, rate: Any, name: str) -> bytes:
    """A WAV file (PCM_16) of ``samples`` at ``rate`` Hz: 1-D mono, or 2-D frames x channels."""
    import numpy as np
    import soundfile as sf

    rate = _sample_rate(rate, name)
    array = np.asarray(samples)
    if array.ndim == 2 and array.shape[0] < array.shape[1] and array.shape[0] <= 8:
        array = array.T  # (channels, frames), the librosa convention, to soundfile's (frames, channels)
    if array.ndim not in (1, 2):
        raise InvalidRequest(f"{name} has shape {array.shape}: audio must be 1-D or 2-D samples.")
    out = io.BytesIO()
    sf.write(out, _writable(array, name), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def _sample_rate(rate: Any, name: str) -> int:
    if rate is None:
        raise InvalidRequest(
            f"{name} is audio samples without a sample rate: pass --rate N, or a (samples, rate) tuple."
        )
    whole = (isinstance(rate, numbers.Integral) and not isinstance(rate, bool)) or (
        isinstance(rate, numbers.Real) and float(rate).is_integer())
    if not whole or not 1 <= int(rate) <= MAX_RATE:
        raise InvalidRequest(
            f"{name}: the sample rate must be a whole number of Hz from 1 to {MAX_RATE:,} "
            f"(8000, 16000, 44100, 48000...), not {rate!r}."
        )
    return int(rate)


def _writable(array: Any, name: str) -> Any:
    """The samples in a dtype soundfile writes as 16-bit PCM (int16, int32, float32/64). The choices:

    - floats are -1..1 (soundfile's and librosa's convention) and libsndfile scales them (by
      32768, clipped); a peak up to 2 is clipped here (a mix or a resampler overshoots a
      little), a higher one means integer values stored as floats and is refused rather than
      sent as noise;
    - int16 goes as it is; int8, uint8 (8-bit WAV: unsigned around 128) and int32 (24/32-bit
      PCM) are scaled by their type's range;
    - int64 and the other integer types (numpy's default int: values computed or typed in) are
      taken as 16-bit sample values when they fit, refused when they do not: clipping would
      distort them, scaling by their type's range would turn them into silence.
    """
    import numpy as np

    if array.size == 0:
        raise InvalidRequest(f"{name} holds no samples: there is nothing to hear.")
    kind = array.dtype.kind
    if kind == "f":
        if not np.isfinite(array).all():
            raise InvalidRequest(f"{name} holds NaN or infinite samples: replace them (np.nan_to_num) first.")
        peak = float(np.abs(array).max())
        if peak > 2:
            raise InvalidRequest(
                f"{name} holds float samples up to {peak:,.6g}, but float audio lies in -1..1: divide by "
                "32768 if they are 16-bit values, or by their peak."
            )
        return np.clip(array, -1.0, 1.0).astype(np.float64 if array.dtype == np.float64 else np.float32)
    if array.dtype == np.int16:
        return array
    if array.dtype == np.int8:
        return array.astype(np.int16) << 8
    if array.dtype == np.uint8:
        return (array.astype(np.int16) - 128) << 8
    if array.dtype == np.int32:
        return array  # libsndfile keeps its top 16 bits
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < -32768 or high > 32767:
            raise InvalidRequest(
                f"{name} holds {array.dtype} samples from {low:,} to {high:,}, beyond 16-bit audio "
                "(-32,768..32,767): scale them to floats in -1..1, or give int16/int32 samples."
            )
        return array.astype(np.int16)
    raise InvalidRequest(
        f"{name} holds {array.dtype} values, which are not audio samples: give floats in -1..1 or "
        "integers (int16, int32)."
    )
