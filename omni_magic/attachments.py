"""Attachment: one piece of media for a user message, measured, checked and encoded.

A source is a URL (passed through untouched: it cannot be measured here), a
local path, raw bytes, a PIL image, a numpy array (an image, or audio with
``rate``) or a ``(samples, rate)`` tuple. Local data is sent as a base64 data
URL the way the service's documentation shows, but never built as one big
string: the body carries an ``InlineData`` that is base64-encoded chunk by
chunk while the request is written (see ``body.py``).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ._b64 import b64encode
from .errors import InvalidRequest

if TYPE_CHECKING:
    from .catalog import Model
    from .probe import MediaInfo
    from .tokens import TokenEstimate

KINDS = ("image", "audio", "video", "frames")
URL_SCHEMES = ("http://", "https://", "oss://", "data:")
SENDING = ("The request was abandoned. Wait until whatever writes the file has finished, then "
           "run the cell again.")
READ_CHUNK = 3 * 1024 * 1024  # a multiple of 3, so chunk-by-chunk base64 needs no padding until the end


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.startswith(URL_SCHEMES)


@dataclass(frozen=True, eq=False)
class InlineData:
    """Local bytes to send as ``prefix + base64(data)``, read and encoded lazily."""

    prefix: str  # "data:image/png;base64," or "data:;base64," as the seed shows
    name: str
    nbytes: int
    path: Path | None = None
    data: bytes | None = None
    note: str | None = None  # what was done to the file on the way (a HEIC sent as JPEG)

    @property
    def encoded_length(self) -> int:
        return len(self.prefix) + 4 * ((self.nbytes + 2) // 3)

    def raw_chunks(self, size: int = READ_CHUNK) -> Iterator[bytes]:
        if self.data is not None:
            view = memoryview(self.data)
            for start in range(0, len(view), size):
                yield bytes(view[start:start + size])
            return
        assert self.path is not None
        # Exactly the nbytes measured and promised in the Content-Length: a file that grew or
        # shrank since is refused here, by name, before the server could get a wrong body.
        left = self.nbytes
        try:
            with open(self.path, "rb") as handle:
                while left:
                    chunk = handle.read(min(size, left))  # short only at the end of the file
                    if not chunk:
                        raise self.changed(SENDING)
                    left -= len(chunk)
                    yield chunk
                if handle.read(1):
                    raise self.changed(SENDING)
        except OSError as exc:  # gone, or unreadable, since it was measured
            raise InvalidRequest(f"{self.name} cannot be read any more ({exc.strerror or exc}). "
                                 f"{SENDING}") from None

    def check_unchanged(self, advice: str) -> None:
        """Refuse (InvalidRequest, ending with ``advice``) a file whose size is not the one
        measured: an earlier turn's file, sent again with the history, may have been edited
        or deleted since."""
        if self.path is not None:
            try:
                size = os.stat(self.path).st_size
            except OSError:
                size = None
            if size != self.nbytes:
                raise self.changed(advice)

    def changed(self, advice: str) -> InvalidRequest:
        try:
            now = f"{os.stat(self.path).st_size:,} bytes now"  # type: ignore[arg-type]
        except OSError:
            now = "it is gone now"
        return InvalidRequest(f"{self.name} changed since it was measured: it had "
                              f"{self.nbytes:,} bytes then, {now}. {advice}")

    def encoded_chunks(self, size: int = READ_CHUNK) -> Iterator[bytes]:
        """``prefix`` then the base64 text, in pieces; only the last piece carries padding."""
        yield self.prefix.encode("ascii")
        for chunk in self.raw_chunks(size):
            yield b64encode(chunk)

    def read(self) -> bytes:
        return self.data if self.data is not None else b"".join(self.raw_chunks())

    def __repr__(self) -> str:
        return f"<{self.name}: {self.nbytes:,} bytes inline>"


@dataclass(eq=False)
class Attachment:
    """Media to attach: ``kind`` is image | audio | video | frames.

    ``source`` is a URL, a path, bytes, a PIL image, a numpy array or a
    ``(samples, rate)`` tuple; for ``frames`` it is a list of image sources.
    ``rate`` is the sample rate of audio given as a numpy array.
    """

    kind: str
    source: Any
    name: str | None = None
    rate: int | None = None
    note: str | None = None  # what was done to it on the way (--fit), said once
    _local: list[InlineData | str] | None = field(default=None, init=False, repr=False)
    _info: list[MediaInfo | None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidRequest(f"Unknown attachment kind {self.kind!r}: use one of {', '.join(KINDS)}.")
        if self.kind == "frames":
            if isinstance(self.source, (str, bytes, Path)) or not hasattr(self.source, "__len__"):
                raise InvalidRequest("A frames attachment takes a list of images (paths, URLs, bytes or arrays).")
            self.source = list(self.source)
        if self.name is None:
            self.name = _name_of(self.source[0] if self.kind == "frames" and self.source else self.source, self.kind)

    @property
    def modality(self) -> str:
        """The modality it counts as: frames are a video."""
        return "video" if self.kind == "frames" else self.kind

    @property
    def sources(self) -> list[Any]:
        return self.source if self.kind == "frames" else [self.source]

    # -- encoding ------------------------------------------------------------------------------
    def items(self) -> list[InlineData | str]:
        """Each source as a URL string or as InlineData (local files are not read yet)."""
        if self._local is None:
            item_kind = "image" if self.kind == "frames" else self.kind
            self._local = [
                _to_item(s, item_kind, _name_of(s, item_kind, i) if self.kind == "frames" else self.name, self.rate)
                for i, s in enumerate(self.sources)
            ]
        return self._local

    def to_part(self) -> dict[str, Any]:
        """The content part for the request body, as the service's documentation shows it."""
        items = self.items()
        first = items[0]
        if self.kind == "image":
            return {"type": "image_url", "image_url": {"url": first}}
        if self.kind == "audio":
            return {"type": "input_audio", "input_audio": {"data": first, "format": self.audio_format()}}
        if self.kind == "video":
            return {"type": "video_url", "video_url": {"url": first}}
        return {"type": "video", "video": list(items)}

    def audio_format(self) -> str:
        """The container format the service is told: measured when local, else the URL's suffix."""
        info = self.probe()[0]
        if info is not None and info.format:
            return info.format
        suffix = Path(str(self.name).split("?")[0]).suffix.lower().lstrip(".")
        return suffix or "wav"

    # -- measuring and checking ----------------------------------------------------------------
    def probe(self) -> list[MediaInfo | None]:
        """Measurements of each local source (None for a URL, which cannot be measured here)."""
        if self._info is None:
            from . import probe

            infos: list[MediaInfo | None] = []
            for item in self.items():
                if isinstance(item, str):
                    infos.append(None)
                elif self.kind == "video":
                    infos.append(probe.probe_video(item.path or item.data, item.name))
                elif self.kind == "audio":  # from the path: a long recording is never read whole
                    infos.append(probe.probe_audio(item.path or item.data, item.name))
                else:
                    infos.append(probe.probe_image(item.path or item.data, item.name))
            self._info = infos
        return self._info

    @property
    def notes(self) -> list[str]:
        """What was done to the media on the way (a HEIC photo sent as JPEG, --fit), said once."""
        if self.note:
            return [self.note]
        return [item.note for item in self.items() if isinstance(item, InlineData) and item.note]

    def check(self, model: Model) -> list[str]:
        """Refuse what the model's family limits forbid (InvalidRequest); return warnings."""
        from . import limits

        family = model.family
        warnings: list[str] = []
        infos = self.probe()
        if self.kind == "frames":
            warnings += limits.check_frames(len(infos), family)
        for item, info in zip(self.items(), infos):
            name = item.name if isinstance(item, InlineData) else self.name
            if isinstance(item, InlineData):
                warnings += limits.check_inline(item.nbytes, name, self.kind, family)
            if info is None:
                continue
            if self.kind in ("image", "frames"):
                warnings += limits.check_image(info, name, family)
            elif self.kind == "audio":
                warnings += limits.check_audio(info, name, family)
            else:
                warnings += limits.check_video(info, name, family)
        return warnings

    def estimate(self, model: Model, into: TokenEstimate, *, hi_res: bool = False) -> None:
        """Add this attachment's token estimate (per part) to ``into``."""
        from . import tokens

        infos = self.probe()
        label = f"{self.kind} {self.name}"
        if any(info is None for info in infos):
            into.add(label, self.modality, 0, "not counted: passed by URL")
            return
        if self.kind == "image":
            info = infos[0]
            into.add(label, "image", tokens.image_tokens(info.width, info.height, model, hi_res=hi_res),
                     tokens.image_method(model, hi_res=hi_res))
        elif self.kind == "frames":
            first = infos[0]
            into.add(f"frames ({len(infos)}) {self.name}", "video",
                     tokens.frames_tokens(first.width, first.height, len(infos), model),
                     tokens.video_method(model))
        elif self.kind == "audio":
            into.add(label, "audio", tokens.audio_tokens(infos[0].seconds or 0.0, model),
                     tokens.audio_method(model))
        else:
            info = infos[0]
            into.add(label, "video",
                     tokens.video_tokens(info.width, info.height, info.frames, info.fps, model),
                     tokens.video_method(model))
            if info.has_audio:
                into.add(f"sound of {self.name}", "audio",
                         tokens.audio_tokens(info.audio_seconds or info.seconds or 0.0, model),
                         tokens.audio_method(model))

    @property
    def inline_count(self) -> int:
        """Items sent inline (base64), as the service counts them against its per-message caps."""
        return sum(isinstance(item, InlineData) for item in self.items())


# -- sources -----------------------------------------------------------------------------------
def _name_of(source: Any, kind: str, index: int | None = None) -> str:
    if isinstance(source, (str, Path)) and not str(source).startswith("data:"):
        return Path(str(source).split("?")[0]).name or str(source)
    suffix = "" if index is None else f" {index + 1}"
    return f"<{type(source).__name__} {kind}{suffix}>"


def _to_item(source: Any, kind: str, name: str, rate: int | None) -> InlineData | str:
    if is_url(source):
        return str(source)
    path, data = None, None
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise InvalidRequest(
                f"Cannot attach {str(source)!r}: no such file. Give a path, a URL, or the name of "
                "a variable holding an image, audio or bytes."
            )
    else:
        data = _to_bytes(source, kind, name, rate)
    if kind != "image":  # audio and video go exactly as the service's examples show
        prefix = "data:;base64,"
    else:
        from .probe import media_type

        # The type the bytes have, whatever the name says; probe() decodes the image later.
        found = media_type(path, data, decode=True)
        mime = found[1] if found and found[0] == "image" else None
        if mime == "image/heic":
            return _heic_as_jpeg(path.read_bytes() if path is not None else data, name)
        prefix = f"data:{mime or 'image/png'};base64,"
    if path is not None:
        return InlineData(prefix, name, path.stat().st_size, path=path)
    return InlineData(prefix, name, len(data), data=data)


def _heic_as_jpeg(data: Any, name: str) -> InlineData:
    from . import heic

    jpeg = heic.to_jpeg(bytes(data), name)
    return InlineData(
        "data:image/jpeg;base64,", name, len(jpeg), data=jpeg,
        note=(f"{name} is a HEIC photo, which the service does not list among its image formats: "
              f"it is sent as JPEG ({len(jpeg):,} bytes)."),
    )


def _to_bytes(source: Any, kind: str, name: str, rate: int | None) -> bytes:
    """bytes, a PIL image, a numpy array or a (samples, rate) tuple, as file bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, tuple) and len(source) == 2 and kind == "audio":
        source, rate = source
    module = type(source).__module__
    if module.startswith("PIL."):
        if kind != "image":
            raise InvalidRequest(f"{name} is an image; attach it with -i/--image, not as {kind}.")
        return _png(source)
    if module == "numpy":
        if kind == "audio":
            from .samples import to_wav

            return to_wav(source, rate, name)
        if kind == "image":
            from PIL import Image

            try:
                return _png(Image.fromarray(_as_uint8(source)))
            except (TypeError, ValueError) as exc:
                raise InvalidRequest(
                    f"{name} cannot be read as an image ({exc}): give an H×W or H×W×3/4 array."
                ) from None
        raise InvalidRequest(f"A numpy array cannot be attached as a {kind}: save it to a file first.")
    raise InvalidRequest(
        f"Cannot attach {name} ({type(source).__name__}): give a path, a URL, bytes, a PIL image "
        "or a numpy array."
    )


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _as_uint8(array: Any) -> Any:
    import numpy as np

    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):  # 0..1 floats, the matplotlib convention
        return (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)
