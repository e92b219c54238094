"""A request's media: checked against the model's limits, and estimated.

Used for the new message's attachments and, by history.py, for the media earlier turns send
again, so both are held to the same rules and counted the same way.
"""

from __future__ import annotations

from typing import Sequence

from . import limits, tokens
from .attachments import Attachment
from .catalog import Model
from .errors import InvalidRequest

# The modality each media part of a message counts as, by its "type".
PART_MODALITY = {
    "image_url": "image", "input_audio": "audio", "video_url": "video", "video": "video",
    "audio_url": "audio",  # vLLM's part for audio by URL
}


def measure_media(attachments: Sequence[Attachment], info: Model | None, hi_res: bool,
                  strict: bool = True) -> tuple[tokens.TokenEstimate, list[str]]:
    """The media's estimate per part and the warnings of their checks (refusals raise).
    A model outside the catalog gets neither: its rules and token factors are unknown.
    ``strict`` False (not DashScope): no checks, and the estimate only where it can be made."""
    media = tokens.TokenEstimate()
    warnings: list[str] = []
    if info is None:
        for attachment in attachments:
            media.add(f"{attachment.kind} {attachment.name}", attachment.modality, 0,
                      "not counted: the model is not in the catalog")
        return media, warnings
    if strict:
        for kind in ("image", "audio", "video"):
            files = [a for a in attachments if a.modality == kind and a.kind != "frames"]
            inline = sum(a.inline_count for a in files)
            warnings += limits.check_counts(kind, len(files) - inline, inline, info.family)
    for attachment in attachments:
        probed = attachment.probe()  # a file that cannot be read is refused on every server
        if strict:
            warnings += attachment.check(info)
            if attachment.kind == "video" and probed[0] is not None:
                warnings += limits.check_sampling(probed[0], str(attachment.name), info)
        _estimate(attachment, info, media, hi_res)
    return media, warnings


def _estimate(attachment: Attachment, info: Model, into: tokens.TokenEstimate, hi_res: bool) -> None:
    """Add the attachment's estimate; one the estimator cannot make (a frame count not
    measured, a clip DashScope's sampler would refuse going elsewhere) counts 0, said so."""
    label = f"{attachment.kind} {attachment.name}"
    first = attachment.probe()[0]
    if attachment.kind == "video" and first is not None and not (first.frames and first.fps):
        into.add(label, "video", 0, "not counted: its frame count could not be measured")
        return
    try:
        attachment.estimate(info, into, hi_res=hi_res)
    except InvalidRequest:  # DashScope's refusals were raised by its checks already
        into.add(label, attachment.modality, 0, "not counted: DashScope's estimator cannot count it")
