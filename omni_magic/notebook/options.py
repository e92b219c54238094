"""A cell's option values as attachments: paths, URLs, globs (natural order) and the names of
variables in the user's namespace. The notebook's side of ``Attachment``."""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any

from ..attachments import Attachment, is_url
from ..errors import InvalidRequest


def natural_key(text: str) -> list[Any]:
    """Sort key that puts frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def expand(value: str) -> list[str]:
    """A glob pattern's matches in natural order; any other value as it is."""
    if is_url(value) or not any(ch in value for ch in "*?["):
        return [value]
    matches = sorted(glob.glob(str(Path(value).expanduser())), key=natural_key)
    if not matches:
        raise InvalidRequest(f"No file matches {value!r}.")
    return matches


def from_options(
    *,
    images: list[str] | None = None,
    audio: str | None = None,
    video: str | None = None,
    frames: list[str] | None = None,
    rate: int | None = None,
    namespace: dict[str, Any] | None = None,
) -> list[Attachment]:
    """Attachments from option values: paths, URLs, globs, or names of variables in ``namespace``."""
    namespace = namespace or {}

    def resolve(value: str) -> list[Any]:
        if value.isidentifier() and value in namespace:
            return [namespace[value]]
        return expand(value)

    def named(value: str) -> str | None:
        return value if value.isidentifier() and value in namespace else None

    out: list[Attachment] = []
    for value in images or ():
        out += [Attachment("image", s, name=named(value)) for s in resolve(value)]
    if audio:
        sources = resolve(audio)
        if len(sources) != 1:
            raise InvalidRequest(f"-a/--audio takes one file; {audio!r} matches {len(sources)}.")
        out.append(Attachment("audio", sources[0], name=named(audio), rate=rate))
    if video:
        sources = resolve(video)
        if len(sources) != 1:
            raise InvalidRequest(f"--video takes one file; {video!r} matches {len(sources)}. Use --frames for images.")
        out.append(Attachment("video", sources[0], name=named(video)))
    if frames:
        sources = [s for value in frames for s in resolve(value)]
        if len(sources) == 1 and isinstance(sources[0], (list, tuple)):
            sources = list(sources[0])  # a variable holding a list of frames
        out.append(Attachment("frames", sources, name=frames[0] if len(frames) == 1 else None))
    return out
