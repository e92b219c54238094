"""The service's media limits, judged on the server side too (SPEC §4; issue 17, item 2).

The client checks media before sending (``omni_magic.limits`` through attachments.py); the
emulator is the second line, so a test that turns the client's checks off still sees the
service's 400. The judging is the client's own: the same ``limits.check_*`` functions on the
same probes, so the two lines cannot drift apart. Only a confirmed limit refuses; what an
unconfirmed one would refuse, or what could not be measured, is noted in the log (logger
``omni_magic.emulator``) and the request is served.

Inline parts (data URLs, bare base64) are measured here. Media by URL is measured once
fetched (received.py); ``judge`` is the entry point for bytes from anywhere. Bytes that do
not decode or are not the kind their part claims are left to received.py, which refuses them
in its own words: this module judges media it can measure, nothing else.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Callable

from .. import limits
from ..catalog import Family, Model
from ..errors import InvalidRequest
from ..probe import MediaInfo, probe_audio, probe_image, probe_video
from .errors import Rejected, bad

log = logging.getLogger("omni_magic.emulator")
# The part types judged here, by what they hold; audio_url is vLLM's, which has no such limits.
PART_KINDS = {"image_url": "image", "input_audio": "audio", "video_url": "video"}
_PROBES: dict[str, Callable[[bytes, str], MediaInfo]] = {
    "image": probe_image, "frames": probe_image, "audio": probe_audio, "video": probe_video}
_CHECKS: dict[str, Callable[[MediaInfo, str, Family], list[str]]] = {
    "image": limits.check_image, "frames": limits.check_image,
    "audio": limits.check_audio, "video": limits.check_video}


def refusal(message: str) -> Rejected:
    """The service's 400 for media outside the model's limits."""
    return bad(message)  # the compatible mode's code, as SPEC's error body shows it


def check_media(messages: list[Any], model: Model) -> None:
    """Refuse (Rejected, naming the part: ``messages[0].content[1].image_url``) the first media
    part of ``messages`` that breaks a confirmed limit of the model's family; log the rest.

    ``messages`` has passed validate.py's shape checks: user parts are dicts with their payload."""
    notes: list[str] = []
    try:
        for m, message in enumerate(messages):
            content = message.get("content")
            if message.get("role") != "user" or not isinstance(content, list):
                continue
            notes += _counts(content, m, model.family)
            for c, part in enumerate(content):
                kind = part.get("type")
                where = f"messages[{m}].content[{c}]"
                if kind == "video":
                    notes += _frames(part["video"], f"{where}.video", model)
                elif kind in PART_KINDS:
                    data = inline_bytes(_ref(part, kind))
                    if data is not None:
                        notes += judge(data, f"{where}.{kind}", PART_KINDS[kind], model)
    except InvalidRequest as exc:
        raise refusal(str(exc)) from None
    for note in notes:
        log.info("Served despite: %s", note)


def judge(data: bytes, where: str, kind: str, model: Model, *, inline: bool = True) -> list[str]:
    """Judge one item's bytes as ``kind`` (image, frames, audio, video) against the model's
    family: InvalidRequest naming ``where`` on a confirmed limit, else the notes. ``inline``:
    the bytes came as base64, so the per-item base64 cap applies too. Bytes the probes cannot
    measure are not judged."""
    family = model.family
    notes = limits.check_inline(len(data), where, kind, family) if inline else []
    try:
        info = _PROBES[kind](data, where)
    except InvalidRequest:  # not this kind of media, or nothing here can decode it
        return notes
    notes += _CHECKS[kind](info, where, family)
    if kind == "video":  # DashScope's frame sampler: this module serves DashScope's dialect
        notes += limits.check_sampling(info, where, model)
    return notes


def inline_bytes(ref: str) -> bytes | None:
    """The bytes of a data URL or bare base64; None for a URL or text that does not decode."""
    if "://" in ref:
        return None
    payload = ref.partition(",")[2] if ref.startswith("data:") else ref
    try:
        data = base64.b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        return None
    return data or None


def _ref(part: dict[str, Any], kind: str) -> str:
    return str(part[kind]["data" if kind == "input_audio" else "url"])


def _frames(refs: list[str], where: str, model: Model) -> list[str]:
    """A frame list: its length (known without reading a frame), then each inline frame."""
    try:
        notes = [f"{where}: {note}" for note in limits.check_frames(len(refs), model.family)]
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}: {exc}") from None
    for k, ref in enumerate(refs):
        data = inline_bytes(ref)
        if data is not None:
            notes += judge(data, f"{where}[{k}]", "frames", model)
    return notes


def _counts(content: list[Any], m: int, family: Family) -> list[str]:
    """Files of each kind in one message, by URL and inline, against the family's caps."""
    notes: list[str] = []
    for kind in ("image", "audio", "video"):
        refs = [_ref(p, p["type"]) for p in content if PART_KINDS.get(p.get("type")) == kind]
        inline = sum("://" not in ref for ref in refs)
        try:
            notes += limits.check_counts(kind, len(refs) - inline, inline, family)
        except InvalidRequest as exc:
            raise InvalidRequest(f"messages[{m}]: {exc}") from None
    return notes
