"""Attachment: one piece of media for a user message, turned into a content part.

A source is a URL (passed through untouched), a local path, or raw bytes; local
data becomes a base64 data URL the way the service's documentation shows.
"""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .errors import InvalidRequest

KINDS = ("image", "audio", "video", "frames")
Source = Union[str, Path, bytes]


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://", "oss://", "data:"))


@dataclass
class Attachment:
    """Media to attach: ``kind`` is image | audio | video | frames.

    ``source`` is a URL, a path or bytes; for ``frames`` it is a list of those.
    """

    kind: str
    source: Source | list[Source]
    name: str | None = None
    mime: str | None = None
    _url: str | list[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidRequest(f"Unknown attachment kind {self.kind!r}: use one of {', '.join(KINDS)}.")
        if self.kind == "frames" and not isinstance(self.source, (list, tuple)):
            raise InvalidRequest("A frames attachment takes a list of images (paths, URLs or bytes).")
        if self.name is None:
            first = self.source[0] if isinstance(self.source, (list, tuple)) and self.source else self.source
            self.name = Path(str(first)).name if isinstance(first, (str, Path)) else f"<{self.kind}>"

    @property
    def modality(self) -> str:
        """The modality it counts as: frames are a video."""
        return "video" if self.kind == "frames" else self.kind

    def url(self) -> str | list[str]:
        """The URL (or data URL) the content part carries; local data is read once."""
        if self._url is None:
            if isinstance(self.source, (list, tuple)):
                self._url = [_to_url(s, "image", None) for s in self.source]
            else:
                self._url = _to_url(self.source, self.kind, self.mime)
        return self._url

    def to_part(self) -> dict[str, Any]:
        """The content part for the request body, as the service's documentation shows it."""
        url = self.url()
        if self.kind == "image":
            return {"type": "image_url", "image_url": {"url": url}}
        if self.kind == "audio":
            return {"type": "input_audio", "input_audio": {"data": url, "format": self.audio_format()}}
        if self.kind == "video":
            return {"type": "video_url", "video_url": {"url": url}}
        return {"type": "video", "video": list(url)}

    def audio_format(self) -> str:
        name = self.name or ""
        suffix = Path(name.split("?")[0]).suffix.lower().lstrip(".")
        return suffix or "wav"


def _to_url(source: Source, kind: str, mime: str | None) -> str:
    if is_url(source):
        return str(source)
    if isinstance(source, bytes):
        data = source
        name = None
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise InvalidRequest(f"Cannot attach {str(source)!r}: no such file. Give a path, a URL or bytes.")
        data = path.read_bytes()
        name = path.name
    if mime is None and kind == "image":
        mime = (mimetypes.guess_type(name)[0] if name else None) or "image/png"
    # Audio and video files go as "data:;base64," exactly as the service's examples show.
    prefix = f"data:{mime};base64," if kind == "image" and mime else "data:;base64,"
    return prefix + base64.b64encode(data).decode("ascii")
